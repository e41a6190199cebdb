"""The rotation engine: claiming due data sources, rotating one (write-ahead nonce, the call,
one conditional UPDATE), and what follows a failed call. `_apply_remote` and the fields it
assigns (`APPLIED_FIELDS`) also serve every other change Webex accepts with a new nonce."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from audit.context import Actor
from audit.services import audit_record
from audit.vocabulary import Action
from core import policy as rules
from core.webex_adapter import explain, webex_client_for
from stats.counters import record_rotation_outcome
from tenants.models import CustomerOrg
from webex.errors import WebexError, WebexNotFound, WebexRateLimited
from webex.types import DataSource as RemoteDataSource

from ..models import DataSource, NonceRecord
from ._common import _audit, _request, new_nonce
from .calls import AccessTokens, _expiry, _in_flight, _lease_until, _settled_after, _with_refresh

Status = DataSource.Status


def _next_rotation(expires_at: dt.datetime | None, lifetime_minutes: int, now: dt.datetime):
    return rules.next_rotation_at(expires_at=expires_at, lifetime_minutes=lifetime_minutes, now=now)


# Every column `_apply_remote` assigns: the rotation writes exactly these with one UPDATE.
# Keep in step with it (test_apply_remote_writes_only_the_listed_fields checks).
APPLIED_FIELDS = (
    "previous_nonce",
    "previous_token_expires_at",
    "nonce",
    "pending_nonce",
    "token_expires_at",
    "last_rotated_at",
    "next_rotation_at",
    "consecutive_failures",
    "last_error",
    "last_tracking_id",
    "at_risk_alerted_at",
    "claimed_until",
    "inflight_until",
    "version",
)


def _apply_remote(ds: DataSource, remote: RemoteDataSource, now: dt.datetime) -> None:
    """Webex accepted a payload with a new nonce: it is now the current one."""
    if ds.nonce != remote.nonce:
        ds.previous_nonce, ds.previous_token_expires_at = ds.nonce, ds.token_expires_at
    ds.nonce = remote.nonce
    ds.pending_nonce = ""
    ds.token_expires_at = _expiry(remote)
    ds.last_rotated_at = now
    ds.next_rotation_at = (
        _next_rotation(ds.token_expires_at, ds.token_lifetime_minutes, now)
        if ds.status == Status.ACTIVE
        else None
    )
    ds.consecutive_failures = 0
    ds.last_error = ds.last_tracking_id = ""
    ds.at_risk_alerted_at = None
    ds.claimed_until = None
    ds.inflight_until = None
    ds.version += 1


@dataclass(frozen=True)
class RotationResult:
    # rotated | skipped | paused | rate_limited | failed | missing | in_progress | already_rotated
    outcome: str
    detail: str = ""


def datasource_claim_due(*, limit: int = 500) -> list[int]:
    """Claim due data sources so that no two sweeps or workers rotate the same one.

    PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED` over the partial index, then one UPDATE.
    Elsewhere: a conditional UPDATE per candidate. Cost follows the number due, not the total.
    """
    now = timezone.now()
    lease = rules.lease_until(now)
    due = (
        DataSource.objects.filter(status=Status.ACTIVE, next_rotation_at__lte=now)
        .exclude(claimed_until__gt=now)
        .order_by("next_rotation_at")
    )
    if connection.vendor == "postgresql":
        with transaction.atomic():
            # Walk the partial index in deadline order instead of a bitmap scan. Every rotation
            # moves next_rotation_at forward, leaving a dead index entry in the due range until
            # vacuum; a bitmap scan visits the heap page of each one on every sweep (1,900
            # pages for 100 due rows in the 100k bench), while an index scan marks them dead on
            # first sight so later sweeps skip them (200 pages). Transaction-local setting.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL enable_bitmapscan = off")
            ids = list(
                due.select_for_update(skip_locked=True, of=("self",)).values_list("pk", flat=True)[
                    :limit
                ]
            )
            DataSource.objects.filter(pk__in=ids).update(claimed_until=lease)
        return ids
    claimed = []
    for pk, claimed_until in due.values_list("pk", "claimed_until")[:limit]:
        if DataSource.objects.filter(pk=pk, claimed_until=claimed_until).update(
            claimed_until=lease
        ):
            claimed.append(pk)
    return claimed


def _held_until(ds: DataSource) -> str:
    """When the call in flight counts as over at the latest (its lease, or its settling)."""
    return f"{ds.inflight_until:%H:%M:%S} UTC" if ds.inflight_until else "now"


def _rotated_since(ds: DataSource, seen_version: int | None, now: dt.datetime) -> bool:
    """For "rotate now": did a rotation finish after the caller looked, or just now?"""
    if seen_version is not None and ds.version != seen_version:
        return True
    return rules.coalesces(ds.last_rotated_at, now)


# What a rotation reads with its row lock: the whole row, and of the org and its Service App
# only what it uses. Fewer columns to compile, fetch and build (a third of the worker's CPU
# per rotation went to this query), and no app secrets to decrypt.
_ROTATION_COLUMNS = (
    *(f.name for f in DataSource._meta.concrete_fields),
    "org__status",
    "org__public_id",
    "org__service_app__region",
)


def datasource_rotate(
    *,
    ds_id: int,
    actor: Actor | None = None,
    force: bool = False,
    seen_version: int | None = None,
    tokens: AccessTokens | None = None,
) -> RotationResult:
    """Rotate one data source's JWS: new nonce, full payload, store the new expiry.

    Two short transactions around the call: the write-ahead (row lock, in-flight lease, nonce
    record, pending nonce) and the completion (one conditional UPDATE of the row, the nonce
    record, the audit event). `tokens` lets a batch share the orgs' decrypted access tokens.

    Single flight, whoever asks (sweep, button, API, bulk item):
    - a call already in flight for this data source (its lease not run out) is never joined
      by a second one: the answer is `in_progress`;
    - `force` (rotate now) after a rotation that finished since the caller looked
      (`seen_version`) or within SINGLE_FLIGHT_SECONDS answers `already_rotated`;
    - a pending nonce is re-sent only when the attempt that wrote it is known to be over
      (it failed with an answer, or its lease ran out because its worker died).
    One function on purpose: the completion's single conditional UPDATE is right only because
    of what the write-ahead checked and read under the lock, so the numbered steps are read
    together, top to bottom; the rotation cost test pins the statements they make.
    """
    now = timezone.now()
    # 1. Write-ahead: pick (or reuse) the pending nonce under the row lock.
    with transaction.atomic():
        ds = (
            DataSource.objects.select_for_update(of=("self",))
            .select_related("org__service_app")
            .only(*_ROTATION_COLUMNS)
            .get(pk=ds_id)
        )
        if ds.status != Status.ACTIVE or ds.deleted_at:
            return RotationResult("skipped", "disabled or deleted")
        if ds.org.status != CustomerOrg.Status.ACTIVE:
            DataSource.objects.filter(pk=ds.pk).update(claimed_until=None)
            return RotationResult("paused", f"org is {ds.org.status}")
        if ds.missing_at_webex_since:
            return RotationResult("missing", "gone at Webex")
        if _in_flight(ds, now):
            return RotationResult(
                "in_progress",
                f"a rotation or change is in flight at Webex (held until {_held_until(ds)})",
            )
        if force and not ds.pending_nonce and _rotated_since(ds, seen_version, now):
            return RotationResult(
                "already_rotated",
                f"a new JWS was issued moments ago, at {ds.last_rotated_at:%H:%M:%S} UTC "
                "(by another request, or the registration)",
            )
        if not force and ds.next_rotation_at and ds.next_rotation_at > now and not ds.pending_nonce:
            return RotationResult("skipped", "not due")
        lease = _lease_until(now)
        if not ds.pending_nonce:
            ds.pending_nonce = new_nonce()
            NonceRecord.objects.create(
                datasource=ds, nonce=ds.pending_nonce, purpose="rotate", attempts=1
            )
            DataSource.objects.filter(pk=ds.pk).update(
                pending_nonce=ds.pending_nonce, inflight_until=lease
            )
        else:  # the earlier attempt is over (failed, or its worker died): same nonce again
            NonceRecord.objects.filter(nonce=ds.pending_nonce).update(attempts=F("attempts") + 1)
            DataSource.objects.filter(pk=ds.pk).update(inflight_until=lease)
    nonce = ds.pending_nonce
    client = webex_client_for(ds.org.service_app)
    # 2. The call, outside any transaction. A retry of this step resends the same nonce.
    called_at = timezone.now()
    try:
        remote = _with_refresh(
            ds.org,
            lambda access: client.update_datasource(
                access_token=access,
                datasource_id=ds.webex_id,
                request=_request(ds, nonce=nonce, status="active"),
            ),
            actor,
            tokens,
        )
    except WebexError as exc:
        return _rotation_failed(ds.pk, nonce, exc, actor, called_at)
    except BaseException:  # our own failure, not Webex's: the attempt is over, let a retry in
        DataSource.objects.filter(pk=ds.pk, pending_nonce=nonce).update(inflight_until=None)
        raise
    # 3. Store the outcome, if the pending nonce is still the one sent. Every change to the
    # row's content or status (edits, disable, delete, another rotation) clears the pending
    # nonce under the row lock, so "pending nonce unchanged" means the row read in step 1 is
    # still current: one conditional UPDATE of the rotation's fields replaces lock + save.
    # Fields other services may change meanwhile without clearing it (maintenance schedule)
    # are not written, so nothing is overwritten with a stale value.
    now = timezone.now()
    before_expiry = ds.token_expires_at
    _apply_remote(ds, remote, now)
    ds.inflight_until = _settled_after(None, now, called_at)
    applied = {name: getattr(ds, name) for name in APPLIED_FIELDS}
    with transaction.atomic():
        if not DataSource.objects.filter(pk=ds_id, pending_nonce=nonce).update(
            **applied, updated_at=now
        ):
            return RotationResult("skipped", "another rotation completed first")
        NonceRecord.objects.filter(nonce=nonce).update(
            outcome=NonceRecord.Outcome.OK,
            token_expires_at=ds.token_expires_at,
            error="",
            tracking_id="",
        )
        record_rotation_outcome(outcome="rotated")
        _audit(
            ds,
            Action.DATASOURCE_ROTATED,
            f"Rotated the JWS of {ds.url}",
            actor,
            changes={
                "token_expires_at": {"before": before_expiry, "after": ds.token_expires_at},
                "version": {"before": ds.version - 1, "after": ds.version},
            },
        )
    return RotationResult("rotated")


def _rotation_failed(
    ds_id: int, nonce: str, exc: WebexError, actor, called_at: dt.datetime
) -> RotationResult:
    """Decide what happens after a failed rotation call; always aim to succeed before expiry."""
    now = timezone.now()
    with transaction.atomic():
        ds = DataSource.objects.select_for_update(of=("self",)).select_related("org").get(pk=ds_id)
        ds.consecutive_failures += 1
        ds.last_error = explain(exc)
        ds.last_tracking_id = exc.tracking_id or ""
        ds.claimed_until = None
        ds.inflight_until = _settled_after(exc, now, called_at)  # re-sent once it has settled
        outcome = "failed"
        if isinstance(exc, WebexNotFound):
            ds.missing_at_webex_since = now
            ds.next_rotation_at = None
            outcome = "missing"
        elif isinstance(exc, WebexRateLimited):
            ds.next_rotation_at = rules.rate_limited_until(retry_after=exc.retry_after, now=now)
            outcome = "rate_limited"
        else:
            ds.next_rotation_at = rules.rotation_retry_at(
                failures=ds.consecutive_failures, expires_at=ds.token_expires_at, now=now
            )
        if ds.inflight_until and ds.next_rotation_at and ds.next_rotation_at < ds.inflight_until:
            ds.next_rotation_at = ds.inflight_until  # not before the unanswered call settled
        ds.save()
        NonceRecord.objects.filter(nonce=nonce).update(
            error=str(exc)[:500], tracking_id=exc.tracking_id or ""
        )
        record_rotation_outcome(outcome=outcome)
        audit_record(
            action=Action.DATASOURCE_ROTATION_FAILED
            if outcome != "missing"
            else Action.DATASOURCE_DRIFT_FOUND,
            summary=f"Rotating {ds.url} failed ({outcome}); next try "
            + (
                f"{ds.next_rotation_at:%H:%M:%S} UTC"
                if ds.next_rotation_at
                else "none: gone at Webex"
            ),
            actor=actor,
            target_type="datasource",
            target_id=ds.public_id,
            target_label=ds.url[:200],
            org_id=ds.org.public_id,
            outcome="failed",
            error=str(exc),
            tracking_id=exc.tracking_id or "",
        )
    return RotationResult(outcome, ds.last_error)
