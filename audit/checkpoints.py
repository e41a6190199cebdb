"""Signed checkpoints of the audit chain, kept outside the database.

The chain proves that no event was edited *unless* whoever edited it also recomputed every later
hash and the head, which the owner of the tables (or a superuser) can do. A checkpoint closes
that gap: every PORTAL_AUDIT_CHECKPOINT_MINUTES the beat takes the chain head (the newest event's
id and hash) and the time, signs them with HMAC-SHA256 under PORTAL_AUDIT_CHECKPOINT_KEY (from
the environment only: never in the database, never logged) and appends the result as a JSON line
to PORTAL_AUDIT_CHECKPOINT_PATH and/or POSTs it to PORTAL_AUDIT_CHECKPOINT_WEBHOOK.
`manage.py audit_verify` then checks the latest checkpoint's signature and that the event with
that id still carries the signed hash, so a chain rewritten from an edited row onward fails.

Each checkpoint is itself audited ("audit.checkpointed"): the event is recorded first and the
head signed after it committed, so the checkpoint covers its own event.

A line: {"v": 1, "seq": 1234, "head": "<sha256 hex>", "at": "2026-12-03T08:00:00+00:00",
"sig": "<hmac-sha256 hex over the other fields as canonical JSON>"}.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .context import Actor
from .models import AuditChainHead, AuditEvent
from .selectors import audit_chain_head
from .services import audit_record, audit_record_failure
from .vocabulary import Action

logger = logging.getLogger("audit.checkpoints")

VERSION = 1
MIN_KEY_LENGTH = 32
ACTOR = Actor.system("audit.write_checkpoint")


class CheckpointError(Exception):
    """A checkpoint could not be signed, shipped, read or verified (the message says why)."""


@dataclass(frozen=True)
class Checkpoint:
    seq: int  # id of the newest event in the chain (0: the chain was empty)
    head: str  # that event's hash
    at: str  # when it was signed, ISO 8601 in UTC
    sig: str = ""

    def payload(self) -> bytes:
        """What the signature covers: every field but the signature, as canonical JSON."""
        body = {"v": VERSION, "seq": self.seq, "head": self.head, "at": self.at}
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    def to_json(self) -> str:
        body = {"v": VERSION, "seq": self.seq, "head": self.head, "at": self.at, "sig": self.sig}
        return json.dumps(body, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> Checkpoint:
        try:
            data = json.loads(line)
            if data.get("v") != VERSION:
                raise CheckpointError(f"checkpoint version {data.get('v')!r} is not {VERSION}")
            return cls(seq=int(data["seq"]), head=str(data["head"]), at=str(data["at"]),
                       sig=str(data["sig"]))  # fmt: skip
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CheckpointError(f"not a checkpoint line: {exc}") from exc


def checkpoint_key() -> bytes:
    """The signing key from the environment; refuses a missing or short one."""
    key = settings.PORTAL_AUDIT_CHECKPOINT_KEY
    if not key:
        raise CheckpointError("PORTAL_AUDIT_CHECKPOINT_KEY is not set")
    if len(key) < MIN_KEY_LENGTH:
        raise CheckpointError(
            f"PORTAL_AUDIT_CHECKPOINT_KEY must be at least {MIN_KEY_LENGTH} characters"
        )
    return key.encode()


def checkpoint_sign(*, seq: int, head: str, at: str, key: bytes) -> Checkpoint:
    unsigned = Checkpoint(seq=seq, head=head, at=at)
    sig = hmac.new(key, unsigned.payload(), hashlib.sha256).hexdigest()
    return Checkpoint(seq=seq, head=head, at=at, sig=sig)


def checkpoint_signature_valid(checkpoint: Checkpoint, *, key: bytes) -> bool:
    expected = hmac.new(key, checkpoint.payload(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, checkpoint.sig)


def _destinations() -> list[str]:
    kinds = []
    if settings.PORTAL_AUDIT_CHECKPOINT_PATH:
        kinds.append("file")
    if settings.PORTAL_AUDIT_CHECKPOINT_WEBHOOK:
        kinds.append("webhook")
    return kinds


def checkpoint_write() -> Checkpoint | None:
    """Record the checkpoint's audit event, then sign the head and ship it.

    Returns None when no destination is configured (checkpoints off). Raises CheckpointError,
    after recording a failed event, when a destination refused it.
    """
    destinations = _destinations()
    if not destinations:
        logger.info("audit checkpoints are off: no PORTAL_AUDIT_CHECKPOINT_PATH or _WEBHOOK")
        return None
    key = checkpoint_key()
    with transaction.atomic():
        audit_record(
            action=Action.AUDIT_CHECKPOINTED,
            actor=ACTOR,
            summary=f"Audit chain checkpoint signed for {' and '.join(destinations)}",
            changes={"destinations": destinations},
        )
    # After the commit: the head now includes the event above, so the checkpoint covers it.
    seq, head = audit_chain_head()
    checkpoint = checkpoint_sign(seq=seq, head=head, at=timezone.now().isoformat(), key=key)
    problems = []
    if settings.PORTAL_AUDIT_CHECKPOINT_PATH:
        try:
            _append_line(Path(settings.PORTAL_AUDIT_CHECKPOINT_PATH), checkpoint.to_json())
        except OSError as exc:
            problems.append(f"file: {exc.strerror or exc.__class__.__name__}")
    if settings.PORTAL_AUDIT_CHECKPOINT_WEBHOOK:
        url = settings.PORTAL_AUDIT_CHECKPOINT_WEBHOOK
        try:
            response = requests.post(
                url,
                data=checkpoint.to_json(),
                headers={"Content-Type": "application/json"},
                timeout=settings.PORTAL_AUDIT_CHECKPOINT_TIMEOUT,
            )
            response.raise_for_status()
        except requests.RequestException as exc:
            # The host only: a webhook URL may carry a token in its path or query.
            status = getattr(exc.response, "status_code", None)
            problems.append(
                f"webhook {urlsplit(url).hostname}: "
                + (f"HTTP {status}" if status else exc.__class__.__name__)
            )
    if problems:
        audit_record_failure(
            action=Action.AUDIT_CHECKPOINTED,
            actor=ACTOR,
            summary=f"Audit chain checkpoint #{seq} not shipped",
            error="; ".join(problems),
            changes={"destinations": destinations},
        )
        raise CheckpointError(f"checkpoint #{seq} not shipped: {'; '.join(problems)}")
    logger.info("audit checkpoint signed: event #%s sha256 %s", seq, head)
    return checkpoint


def _append_line(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def checkpoint_latest(path: Path) -> Checkpoint:
    """The last checkpoint in a JSON-lines file."""
    try:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except FileNotFoundError as exc:
        raise CheckpointError(
            f"no checkpoint file at {path} (the beat writes the first one "
            "PORTAL_AUDIT_CHECKPOINT_MINUTES after it starts)"
        ) from exc
    if not lines:
        raise CheckpointError(f"no checkpoint in {path} yet")
    return Checkpoint.from_json(lines[-1])


def checkpoint_verify(checkpoint: Checkpoint, *, key: bytes) -> None:
    """Raise CheckpointError unless the signature holds and the chain still passes through it.

    Pair it with `audit_verify_chain()`, which proves every event up to the head hashes and
    links correctly: together they prove the events up to `seq` are the ones signed.
    """
    if not checkpoint_signature_valid(checkpoint, key=key):
        raise CheckpointError(
            f"checkpoint #{checkpoint.seq} of {checkpoint.at}: signature does not match "
            "(edited, or signed with another key)"
        )
    if checkpoint.seq == 0:
        if checkpoint.head != AuditChainHead.GENESIS:
            raise CheckpointError("checkpoint #0 does not carry the genesis hash")
        return
    stored = AuditEvent.objects.filter(pk=checkpoint.seq).values_list("hash", flat=True).first()
    if stored is None:
        raise CheckpointError(
            f"event #{checkpoint.seq}, signed in the checkpoint of {checkpoint.at}, is missing"
        )
    if stored != checkpoint.head:
        raise CheckpointError(
            f"event #{checkpoint.seq} hashes to {stored[:16]}..., the checkpoint of "
            f"{checkpoint.at} signed {checkpoint.head[:16]}...: the chain was rewritten"
        )
