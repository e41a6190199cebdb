"""Signed checkpoints of the audit chain, kept outside the database (audit/checkpoints.py).

The threat: someone with the owner's (or a superuser's) rights edits an event and recomputes
every later hash and the head, so the chain alone still verifies. The checkpoint, signed with a
key the database never sees, still names the old head: `audit_verify` fails.
"""

import importlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from audit.checkpoints import (
    Checkpoint,
    CheckpointError,
    checkpoint_latest,
    checkpoint_sign,
    checkpoint_signature_valid,
    checkpoint_write,
)
from audit.context import Actor
from audit.models import AuditChainHead, AuditEvent
from audit.selectors import audit_verify_chain
from audit.services import audit_record
from audit.vocabulary import Action

pytestmark = pytest.mark.django_db
KEY = "checkpoint-test-key-" + "k" * 32
SYSTEM = Actor.system("test")


@pytest.fixture
def checkpoints(settings, tmp_path):
    settings.PORTAL_AUDIT_CHECKPOINT_KEY = KEY
    settings.PORTAL_AUDIT_CHECKPOINT_PATH = str(tmp_path / "evidence" / "checkpoints.jsonl")
    settings.PORTAL_AUDIT_CHECKPOINT_WEBHOOK = ""
    return tmp_path / "evidence" / "checkpoints.jsonl"


def record(summary: str) -> AuditEvent:
    with transaction.atomic():
        return audit_record(action=Action.ORG_ONBOARDED, summary=summary, actor=SYSTEM)


def verify(path=None) -> str:
    from io import StringIO

    out = StringIO()
    call_command("audit_verify", *([f"--checkpoint-file={path}"] if path else []), stdout=out)
    return out.getvalue()


def rewrite_from(event: AuditEvent, summary: str) -> None:
    """What an owner or superuser can do: edit one event, then recompute every later hash and
    the head, so that the chain on its own verifies again."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_no_update")
        else:
            cursor.execute("DROP TRIGGER IF EXISTS audit_event_no_update")
        prev = event.prev_hash
        for later in AuditEvent.objects.filter(id__gte=event.id).order_by("id"):
            if later.id == event.id:
                later.summary = summary
            later.prev_hash = prev
            prev = later.compute_hash()
            cursor.execute(
                "UPDATE audit_auditevent SET summary = %s, prev_hash = %s, hash = %s WHERE id = %s",
                [later.summary, later.prev_hash, prev, later.id],
            )
        cursor.execute("UPDATE audit_auditchainhead SET last_hash = %s WHERE id = 1", [prev])
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_event_no_update")


def test_a_checkpoint_signs_the_head_including_its_own_event(checkpoints):
    record("before")
    checkpoint = checkpoint_write()
    newest = AuditEvent.objects.order_by("-id").first()
    assert (
        newest.action == Action.AUDIT_CHECKPOINTED
        and newest.actor == "system:audit.write_checkpoint"
    )
    assert newest.changes == {"destinations": ["file"]}
    assert (checkpoint.seq, checkpoint.head) == (newest.id, newest.hash)
    assert checkpoint_signature_valid(checkpoint, key=KEY.encode())
    lines = checkpoints.read_text().splitlines()
    assert len(lines) == 1 and Checkpoint.from_json(lines[0]) == checkpoint
    assert set(json.loads(lines[0])) == {"v", "seq", "head", "at", "sig"}
    checkpoint_write()
    assert len(checkpoints.read_text().splitlines()) == 2  # appended, never rewritten


def test_an_untouched_chain_passes_against_the_latest_checkpoint(checkpoints):
    for i in range(3):
        record(f"event {i}")
    checkpoint = checkpoint_write()
    record("after the checkpoint")  # later events are not covered yet, and do not fail it
    out = verify()  # the configured path by default
    assert "audit chain intact: 5 events" in out
    assert f"event #{checkpoint.seq} still hashes to {checkpoint.head}" in out


def test_a_chain_rewritten_from_an_edited_row_onward_fails_against_the_checkpoint(checkpoints):
    events = [record(f"event {i}") for i in range(5)]
    checkpoint_write()
    rewrite_from(events[2], "forged")
    assert AuditEvent.objects.get(pk=events[2].pk).summary == "forged"
    assert audit_verify_chain().broken_at is None  # the chain alone cannot tell
    with pytest.raises(
        CommandError, match="FAILS its checkpoint: event #.* the chain was rewritten"
    ):
        verify(checkpoints)


def test_a_checkpoint_with_a_bad_signature_fails(checkpoints, settings):
    record("one")
    good = checkpoint_write()
    forged = checkpoint_sign(seq=good.seq, head=good.head, at=good.at, key=b"x" * 40)
    with checkpoints.open("a") as handle:
        handle.write(forged.to_json() + "\n")
    with pytest.raises(CommandError, match="signature does not match"):
        verify(checkpoints)
    edited = Checkpoint(seq=good.seq - 1, head=good.head, at=good.at, sig=good.sig)
    with checkpoints.open("a") as handle:
        handle.write(edited.to_json() + "\n")
    with pytest.raises(CommandError, match="signature does not match"):
        verify(checkpoints)
    settings.PORTAL_AUDIT_CHECKPOINT_KEY = "another-key-" + "a" * 40  # the right key matters
    checkpoints.write_text(good.to_json() + "\n")
    with pytest.raises(CommandError, match="signature does not match"):
        verify(checkpoints)


def test_missing_checkpoints_and_keys_are_errors_not_passes(checkpoints, settings, tmp_path):
    record("one")
    with pytest.raises(CommandError, match="no checkpoint file at"):
        verify(tmp_path / "nowhere.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(CommandError, match="no checkpoint in"):
        verify(tmp_path / "empty.jsonl")
    settings.PORTAL_AUDIT_CHECKPOINT_KEY = "short"
    with pytest.raises(CheckpointError, match="at least 32 characters"):
        checkpoint_write()
    settings.PORTAL_AUDIT_CHECKPOINT_KEY = ""
    with pytest.raises(CheckpointError, match="PORTAL_AUDIT_CHECKPOINT_KEY is not set"):
        checkpoint_write()


def test_without_a_destination_checkpoints_are_off(settings):
    settings.PORTAL_AUDIT_CHECKPOINT_PATH = ""
    settings.PORTAL_AUDIT_CHECKPOINT_WEBHOOK = ""
    from audit.tasks import write_checkpoint

    write_checkpoint()
    assert not AuditEvent.objects.exists()
    assert "no checkpoint file configured" in verify()


class _Receiver(BaseHTTPRequestHandler):
    status = 204
    bodies: list[bytes] = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        length = int(self.headers["Content-Length"])
        type(self).bodies.append(self.rfile.read(length))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    _Receiver.bodies = []
    _Receiver.status = 204
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_webhook_receives_the_signed_checkpoint(checkpoints, settings, receiver):
    settings.PORTAL_AUDIT_CHECKPOINT_PATH = ""
    settings.PORTAL_AUDIT_CHECKPOINT_WEBHOOK = f"http://127.0.0.1:{receiver.server_port}/cp"
    record("one")
    checkpoint = checkpoint_write()
    (body,) = _Receiver.bodies
    assert Checkpoint.from_json(body.decode()) == checkpoint
    assert checkpoint_signature_valid(checkpoint, key=KEY.encode())
    assert AuditEvent.objects.order_by("-id").first().changes == {"destinations": ["webhook"]}


def test_a_refused_webhook_fails_loudly_and_is_audited_without_its_url(
    checkpoints, settings, receiver
):
    _Receiver.status = 503
    settings.PORTAL_AUDIT_CHECKPOINT_WEBHOOK = (
        f"http://127.0.0.1:{receiver.server_port}/cp?token=hook-secret-value"
    )
    with pytest.raises(CheckpointError, match="webhook 127.0.0.1: HTTP 503"):
        checkpoint_write()
    failed = AuditEvent.objects.order_by("-id").first()
    assert failed.outcome == AuditEvent.Outcome.FAILED and "HTTP 503" in failed.error
    assert "hook-secret-value" not in json.dumps([failed.error, failed.summary, failed.changes])
    assert len(checkpoints.read_text().splitlines()) == 1  # the file still got it


def test_the_key_never_reaches_the_logs_or_the_trail(checkpoints, caplog):
    record("one")
    with caplog.at_level("DEBUG"):
        checkpoint_write()
        verify()
    assert "audit checkpoint signed" in caplog.text
    assert KEY not in caplog.text
    stored = json.dumps([e.content() for e in AuditEvent.objects.all()])
    assert KEY not in stored and KEY not in checkpoints.read_text()


def test_the_beat_writes_a_checkpoint_every_fifteen_minutes_by_default():
    from byods_portal.celery import app

    base = importlib.import_module("byods_portal.settings")
    assert base.CELERY_BEAT_SCHEDULE["audit-checkpoint"] == {
        "task": "audit.write_checkpoint",
        "schedule": 15 * 60.0,
    }
    app.loader.import_default_modules()
    assert "audit.write_checkpoint" in app.tasks


def test_the_latest_line_is_the_one_checked(checkpoints):
    record("one")
    first = checkpoint_write()
    record("two")
    second = checkpoint_write()
    assert checkpoint_latest(checkpoints) == second != first
    assert AuditChainHead.objects.get().last_event_id == second.seq
