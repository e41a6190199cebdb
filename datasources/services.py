"""Writes for data sources: registration, edits, status changes and the rotation engine.

Webex calls happen outside transactions. Each change is bracketed by short transactions that
lock the row, re-check its state, and record the audit event with the change. A rotation writes
its nonce first (`pending_nonce`, with a `NonceRecord`) and only then calls Webex, so a crash or
a lost response is retried with the same nonce instead of a second, different rotation.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from audit.context import Actor
from audit.redaction import changes as diff
from audit.services import audit_record, audit_record_failure
from audit.vocabulary import Action
from core import policy as rules
from core.errors import PortalError
from core.webex_adapter import explain, webex_client_for
from stats.counters import record_rotation_outcome
from tenants.models import CustomerOrg, OrgToken
from tenants.services import org_tokens_refresh
from webex.errors import (
    WebexError,
    WebexForbidden,
    WebexNotFound,
    WebexRateLimited,
    WebexTransportError,
    WebexUnauthorized,
)
from webex.types import DataSource as RemoteDataSource
from webex.types import DataSourceRequest

from .models import DataSource, NonceRecord
from .validation import validate_datasource

logger = logging.getLogger(__name__)
Status = DataSource.Status


class DataSourceError(PortalError):
    """A data source change refused, by Webex (`error` set) or by its state; the message is
    for staff, with Webex's trackingId."""


class DataSourceBusy(DataSourceError):
    """Another call for this data source may still be in flight at Webex: one at a time."""

    code = "busy"


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def _next_rotation(expires_at: dt.datetime | None, lifetime_minutes: int, now: dt.datetime):
    return rules.next_rotation_at(expires_at=expires_at, lifetime_minutes=lifetime_minutes, now=now)


def _access_token(org: CustomerOrg) -> tuple[str, int]:
    token = OrgToken.objects.only("access_token", "version").get(org=org)
    return token.access_token, token.version


class AccessTokens:
    """Decrypted org access tokens (with their version) kept for one batch of rotations, so a
    batch reads and decrypts each org's token once instead of once per rotation. A 401 still
    refreshes and replaces the entry. Thread-safe: entries are whole tuples, swapped at once.
    In memory only, never logged; dropped with the batch."""

    def __init__(self) -> None:
        self._by_org: dict[int, tuple[str, int]] = {}

    def get(self, org: CustomerOrg) -> tuple[str, int]:
        token = self._by_org.get(org.pk)
        if token is None:
            token = self._by_org[org.pk] = _access_token(org)
        return token

    def reload(self, org: CustomerOrg) -> tuple[str, int]:
        token = self._by_org[org.pk] = _access_token(org)
        return token

    def __repr__(self) -> str:
        return f"<AccessTokens for {len(self._by_org)} org(s)>"


def _with_refresh(
    org: CustomerOrg,
    call: Callable[[str], RemoteDataSource | None],
    actor,
    tokens: AccessTokens | None = None,
):
    """Call Webex with the org's token; on 401 refresh it once (single-flight) and retry."""
    tokens = tokens or AccessTokens()
    access, version = tokens.get(org)
    try:
        return call(access)
    except WebexUnauthorized:
        org_tokens_refresh(org_id=org.pk, seen_version=version, actor=actor)
        access, new_version = tokens.reload(org)
        if new_version == version:
            raise
        return call(access)


def _expiry(remote: RemoteDataSource) -> dt.datetime | None:
    return remote.token_expiry_time


def _snapshot(ds: DataSource) -> dict:
    return {
        "url": ds.url,
        "schema_id": ds.schema_id,
        "audience": ds.audience,
        "subject": ds.subject,
        "token_lifetime_minutes": ds.token_lifetime_minutes,
        "status": ds.status,
        "error_message": ds.error_message,
    }


def _audit(ds: DataSource, action: Action, summary: str, actor, **kw):
    audit_record(
        action=action,
        summary=summary,
        actor=actor,
        target_type="datasource",
        target_id=ds.public_id,
        target_label=ds.url[:200],
        org_id=ds.org.public_id,
        **kw,
    )


def _require_active_org(org: CustomerOrg) -> None:
    if org.status != CustomerOrg.Status.ACTIVE:
        raise DataSourceError(
            f"{org.name} is {org.get_status_display().lower()}: changes reach Webex only for "
            "active orgs."
        )


def _request(ds_or_input, *, nonce: str, status: str | None = None, message: str = ""):
    return DataSourceRequest(
        schema_id=ds_or_input.schema_id,
        url=ds_or_input.url,
        audience=ds_or_input.audience,
        subject=ds_or_input.subject,
        nonce=nonce,
        token_lifetime_minutes=ds_or_input.token_lifetime_minutes,
        status=status,
        error_message=message if status == "disabled" else None,
    )


# ------------------------------------------------------------------------- register / edit
def datasource_register(
    *,
    org: CustomerOrg,
    schema_id: str,
    url: str,
    audience: str,
    subject: str,
    token_lifetime_minutes,
    actor: Actor | None = None,
) -> DataSource:
    """Validate against the org's authorization snapshot, register at Webex, then store.

    If storing fails after Webex accepted, the registration is deleted at Webex again so nothing
    is orphaned; if even that fails, the failure is audited for reconciliation to adopt.
    """
    data = validate_datasource(
        schema_id=schema_id,
        url=url,
        audience=audience,
        subject=subject,
        token_lifetime_minutes=token_lifetime_minutes,
        allowed_schema_ids=org.authorized_schema_ids,
        allowed_domains=org.authorized_domains,
    )
    _require_active_org(org)
    nonce = new_nonce()
    client = webex_client_for(org.service_app)
    try:
        remote = _with_refresh(
            org,
            lambda access: client.register_datasource(
                access_token=access, request=_request(data, nonce=nonce)
            ),
            actor,
        )
    except WebexError as exc:
        audit_record_failure(
            action=Action.DATASOURCE_REGISTERED,
            summary=f"Registering {data.url} refused",
            actor=actor,
            target_type="datasource",
            target_label=data.url[:200],
            org_id=org.public_id,
            error=str(exc),
            tracking_id=exc.tracking_id or "",
        )
        raise DataSourceError(explain(exc), exc) from exc
    now = timezone.now()
    try:
        with transaction.atomic():
            ds = DataSource(
                org=org,
                webex_id=remote.id,
                schema_id=data.schema_id,
                url=data.url,
                audience=data.audience,
                subject=data.subject,
                token_lifetime_minutes=data.token_lifetime_minutes,
                nonce=nonce,
                token_expires_at=_expiry(remote),
                last_rotated_at=now,
            )
            ds.next_rotation_at = _next_rotation(
                ds.token_expires_at, ds.token_lifetime_minutes, now
            )
            ds.full_clean()
            ds.save()
            NonceRecord.objects.create(
                datasource=ds,
                nonce=nonce,
                purpose="register",
                outcome=NonceRecord.Outcome.OK,
                token_expires_at=ds.token_expires_at,
                attempts=1,
            )
            _audit(
                ds,
                Action.DATASOURCE_REGISTERED,
                f"Registered {ds.url} for {org.name}",
                actor,
                changes={k: {"before": None, "after": v} for k, v in _snapshot(ds).items()},
            )
    except Exception as exc:
        _undo_registration(org, client, remote.id, actor, exc)
        raise
    return ds


def _undo_registration(org, client, webex_id: str, actor, cause: Exception) -> None:
    try:
        _with_refresh(
            org,
            lambda access: client.delete_datasource(access_token=access, datasource_id=webex_id),
            actor,
        )
        outcome = "deleted again at Webex"
    except WebexError as exc:
        outcome = f"could NOT be deleted at Webex ({exc}); reconciliation will list it"
    audit_record_failure(
        action=Action.DATASOURCE_REGISTERED,
        summary=f"Storing data source {webex_id} failed after Webex accepted it; {outcome}",
        actor=actor,
        target_type="datasource",
        target_id=webex_id,
        org_id=org.public_id,
        error=f"{type(cause).__name__}: {cause}"[:500],
    )


def _lease_until(now: dt.datetime) -> dt.datetime:
    """How long a call for one data source may be in flight before its caller counts as dead
    (the client's timeouts and retries must fit inside; see ROTATION_LEASE_SECONDS)."""
    return rules.lease_until(now)


def _settled_after(
    exc: BaseException | None, now: dt.datetime, called_at: dt.datetime
) -> dt.datetime | None:
    """The in-flight lease once a call has ended (`exc` None: it succeeded). An answer ends
    it at once; no answer (a timeout, a reset) may mean the request is still being processed
    at Webex, so the lease holds until it has settled before another call for the data source
    may go out. The same after an answer when the call took that long or longer: the client
    re-sends a PUT whose answer did not come in time, so the answer may be the re-send's while
    the first attempt is still at Webex, and would undo a change sent next."""
    if isinstance(exc, WebexTransportError) or now - called_at >= rules.policy().settle:
        return rules.settled_at(now)
    return None


def _in_flight(ds: DataSource, now: dt.datetime) -> bool:
    return ds.inflight_until is not None and ds.inflight_until > now


def _busy(ds: DataSource) -> DataSourceBusy:
    return DataSourceBusy(
        f"A change to {ds.url} is in flight at Webex right now; try again in a few seconds."
    )


@transaction.atomic
def _take_lease(ds: DataSource) -> None:
    """Under the row lock: refuse a deleted data source, or one with a call in flight
    (`DataSourceBusy`); otherwise hold the in-flight lease for the caller's call."""
    now = timezone.now()
    locked = DataSource.objects.select_for_update(of=("self",)).get(pk=ds.pk)
    if locked.deleted_at:
        raise DataSourceError(f"{ds.url} is deleted: nothing is sent to Webex.")
    if _in_flight(locked, now):
        raise _busy(ds)
    DataSource.objects.filter(pk=ds.pk).update(inflight_until=_lease_until(now))


def _push(
    ds: DataSource,
    *,
    purpose: str,
    status: str,
    message: str,
    data=None,
    actor=None,
    tokens: AccessTokens | None = None,
) -> tuple[RemoteDataSource, dt.datetime | None]:
    """Send the full payload with a fresh nonce and return Webex's answer.

    Single flight: under the row lock the call takes the in-flight lease (refused with
    `DataSourceBusy` while a rotation or another change holds it) and records its nonce; the
    lease is released with the outcome, whatever it is. Returns Webex's answer and the lease's
    end for the caller to store with it (None, or a moment to let an earlier attempt settle)."""
    nonce = new_nonce()
    with transaction.atomic():
        _take_lease(ds)
        NonceRecord.objects.create(datasource=ds, nonce=nonce, purpose=purpose, attempts=1)
    client = webex_client_for(ds.org.service_app)
    called_at = timezone.now()
    try:
        remote = _with_refresh(
            ds.org,
            lambda access: client.update_datasource(
                access_token=access,
                datasource_id=ds.webex_id,
                request=_request(data or ds, nonce=nonce, status=status, message=message),
            ),
            actor,
            tokens,
        )
    except WebexError as exc:
        with transaction.atomic():
            DataSource.objects.filter(pk=ds.pk).update(
                inflight_until=_settled_after(exc, timezone.now(), called_at)
            )
            NonceRecord.objects.filter(nonce=nonce).update(
                outcome=NonceRecord.Outcome.FAILED,
                error=str(exc)[:500],
                tracking_id=exc.tracking_id or "",
            )
        raise
    except BaseException:
        DataSource.objects.filter(pk=ds.pk).update(inflight_until=None)
        raise
    NonceRecord.objects.filter(nonce=nonce).update(
        outcome=NonceRecord.Outcome.OK, token_expires_at=_expiry(remote)
    )
    return remote, _settled_after(None, timezone.now(), called_at)


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


def _change(
    ds: DataSource,
    *,
    action,
    summary,
    purpose,
    status,
    message,
    data=None,
    reason="",
    actor=None,
    tokens: AccessTokens | None = None,
) -> DataSource:
    """Send a change (full payload, new nonce) under the in-flight lease, then store it with
    its audit event. Only for active orgs, except offboarding's own changes."""
    if purpose == "offboard":
        if ds.org.status != CustomerOrg.Status.OFFBOARDING:
            raise DataSourceError(f"{ds.org.name} is not being offboarded.")
    else:
        _require_active_org(ds.org)
    before = _snapshot(ds)
    try:
        remote, settled = _push(
            ds,
            purpose=purpose,
            status=status,
            message=message,
            data=data,
            actor=actor,
            tokens=tokens,
        )
    except WebexError as exc:
        with transaction.atomic():
            audit_record_failure(
                action=action,
                summary=f"{summary}: refused by Webex",
                actor=actor,
                target_type="datasource",
                target_id=ds.public_id,
                target_label=ds.url[:200],
                org_id=ds.org.public_id,
                error=str(exc),
                tracking_id=exc.tracking_id or "",
                reason=reason,
            )
        raise DataSourceError(explain(exc), exc) from exc
    now = timezone.now()
    with transaction.atomic():
        ds = DataSource.objects.select_for_update().select_related("org").get(pk=ds.pk)
        if data is not None:
            ds.url, ds.schema_id = data.url, data.schema_id
            ds.audience, ds.subject = data.audience, data.subject
            ds.token_lifetime_minutes = data.token_lifetime_minutes
        ds.status = status
        ds.error_message = message if status == Status.DISABLED else ""
        _apply_remote(ds, remote, now)
        ds.inflight_until = settled
        ds.full_clean()
        ds.save()
        _audit(ds, action, summary, actor, reason=reason, changes=diff(before, _snapshot(ds)))
    return ds


def datasource_update(
    *,
    ds: DataSource,
    schema_id: str,
    url: str,
    audience: str,
    subject: str,
    token_lifetime_minutes,
    actor: Actor | None = None,
) -> DataSource:
    """Edit: validated like a registration, sent as the full payload with a new nonce.
    Webex never changes a data source's schema (it refuses the update), so another schema is
    refused here, before any call; and an edit that changes nothing sends nothing (no new
    nonce, no audit event): `ds` comes back as it was."""
    org = ds.org
    if (schema_id or "").strip() != ds.schema_id:
        raise ValidationError(
            {
                "schema_id": "Webex does not change a data source's schema: keep "
                f"{ds.schema_id}, or register a new data source for the other schema."
            }
        )
    data = validate_datasource(
        schema_id=schema_id,
        url=url,
        audience=audience,
        subject=subject,
        token_lifetime_minutes=token_lifetime_minutes,
        allowed_schema_ids=org.authorized_schema_ids,
        allowed_domains=org.authorized_domains,
    )
    if all(getattr(ds, name) == value for name, value in vars(data).items()):
        return ds
    return _change(
        ds,
        action=Action.DATASOURCE_UPDATED,
        summary=f"Edited {data.url}",
        purpose="update",
        status=ds.status,
        message=ds.error_message,
        data=data,
        actor=actor,
    )


def datasource_disable(*, ds: DataSource, message: str, actor: Actor | None = None) -> DataSource:
    """Disable with a message; Webex shows it to the customer's admin in Control Hub."""
    message = (message or "").strip()
    if not message:
        raise ValidationError(
            {"message": "Disabling needs a message: the customer's admin sees it in Control Hub."}
        )
    if len(message) > 256:
        raise ValidationError({"message": "Keep the message under 256 characters."})
    return _change(
        ds,
        action=Action.DATASOURCE_DISABLED,
        summary=f"Disabled {ds.url}",
        purpose="disable",
        status=Status.DISABLED,
        message=message,
        reason=message,
        actor=actor,
    )


def datasource_enable(*, ds: DataSource, actor: Actor | None = None) -> DataSource:
    """Enable again; the error message is cleared."""
    return _change(
        ds,
        action=Action.DATASOURCE_ENABLED,
        summary=f"Enabled {ds.url}",
        purpose="enable",
        status=Status.ACTIVE,
        message="",
        actor=actor,
    )


def datasource_delete(*, ds: DataSource, reason: str, actor: Actor | None = None) -> None:
    """Delete at Webex (already gone counts as done), then here; the audit trail keeps it.
    Refused, before any call, once deleted or while the org is not active (as every change)."""
    if ds.deleted_at is not None:
        raise DataSourceError(f"{ds.url} is already deleted.")
    _require_active_org(ds.org)
    if len((reason or "").strip()) < 5:
        raise ValidationError({"reason": "Give a reason (at least 5 characters)."})
    _delete(ds, reason=reason.strip(), summary=f"Deleted {ds.url} at Webex", actor=actor)


def _delete(
    ds: DataSource, *, reason: str, summary: str, actor=None, tokens: AccessTokens | None = None
) -> None:
    """Delete at Webex under the in-flight lease (404: already gone, the goal is reached),
    then mark the row deleted with its audit event."""
    _take_lease(ds)
    client = webex_client_for(ds.org.service_app)
    called_at = timezone.now()
    try:
        _with_refresh(
            ds.org,
            lambda access: client.delete_datasource(access_token=access, datasource_id=ds.webex_id),
            actor,
            tokens,
        )
    except WebexNotFound:
        pass  # already gone at Webex: the goal is reached
    except BaseException as exc:
        DataSource.objects.filter(pk=ds.pk).update(
            inflight_until=_settled_after(exc, timezone.now(), called_at)
        )
        if not isinstance(exc, WebexError):
            raise
        with transaction.atomic():
            audit_record_failure(
                action=Action.DATASOURCE_DELETED,
                summary=f"Deleting {ds.url}: refused by Webex",
                actor=actor,
                target_type="datasource",
                target_id=ds.public_id,
                org_id=ds.org.public_id,
                error=str(exc),
                tracking_id=exc.tracking_id or "",
                reason=reason,
            )
        raise DataSourceError(explain(exc), exc) from exc
    _mark_deleted(ds, reason=reason, summary=summary, actor=actor)


@transaction.atomic
def _mark_deleted(ds: DataSource, *, reason: str, summary: str, actor=None) -> DataSource:
    """The row leaves every list and the rotation engine; its history stays."""
    ds = DataSource.objects.select_for_update().select_related("org").get(pk=ds.pk)
    ds.deleted_at = timezone.now()
    ds.next_rotation_at = None
    ds.pending_nonce = ""
    ds.claimed_until = None
    ds.inflight_until = None
    ds.version += 1
    ds.save()
    _audit(
        ds,
        Action.DATASOURCE_DELETED,
        summary,
        actor,
        reason=reason,
        changes={k: {"before": v, "after": None} for k, v in _snapshot(ds).items()},
    )
    return ds


@transaction.atomic
def datasource_schedule_maintenance(
    *,
    ds: DataSource,
    disable_at: dt.datetime,
    enable_at: dt.datetime,
    message: str,
    actor: Actor | None = None,
) -> DataSource:
    errors = {}
    now = timezone.now()
    if disable_at < now - dt.timedelta(minutes=1):
        errors["disable_at"] = "The start of the maintenance window is in the past."
    if enable_at <= disable_at:
        errors["enable_at"] = "The end must come after the start."
    if not (message or "").strip():
        errors["message"] = "Give the message the customer's admin will see while disabled."
    if errors:
        raise ValidationError(errors)
    ds = DataSource.objects.select_for_update().select_related("org").get(pk=ds.pk)
    ds.maintenance_disable_at, ds.maintenance_enable_at = disable_at, enable_at
    ds.maintenance_message = message.strip()[:256]
    ds.save()
    _audit(
        ds,
        Action.DATASOURCE_MAINTENANCE_SCHEDULED,
        f"Maintenance for {ds.url}: {disable_at:%Y-%m-%d %H:%M} to {enable_at:%Y-%m-%d %H:%M} UTC",
        actor,
        changes={
            "maintenance": {
                "before": None,
                "after": {
                    "disable_at": disable_at,
                    "enable_at": enable_at,
                    "message": ds.maintenance_message,
                },
            }
        },
    )
    return ds


def datasource_apply_maintenance(*, now: dt.datetime | None = None, actor=None) -> int:
    """Beat: disable data sources whose window opened, enable those whose window closed. One
    that cannot change now (a rotation in flight, Webex refusing) is logged and taken up again
    by the next run: the window's state stays on its row until the change is made."""
    now = now or timezone.now()
    done = 0
    starting = DataSource.objects.select_related("org__service_app").filter(
        status=Status.ACTIVE,
        deleted_at__isnull=True,
        maintenance_disable_at__lte=now,
        maintenance_enable_at__gt=now,
    )
    for ds in starting:
        try:
            datasource_disable(ds=ds, message=ds.maintenance_message, actor=actor)
        except DataSourceError as exc:
            logger.warning("maintenance: disabling %s postponed: %s", ds.public_id, exc.reason)
            continue
        done += 1
    ending = DataSource.objects.select_related("org__service_app").filter(
        status=Status.DISABLED, deleted_at__isnull=True, maintenance_enable_at__lte=now
    )
    for ds in ending:
        try:
            ds = datasource_enable(ds=ds, actor=actor)
        except DataSourceError as exc:
            logger.warning("maintenance: enabling %s postponed: %s", ds.public_id, exc.reason)
            continue
        DataSource.objects.filter(pk=ds.pk).update(
            maintenance_disable_at=None, maintenance_enable_at=None, maintenance_message=""
        )
        done += 1
    return done


# ------------------------------------------------------------------------- rotation engine
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


def _hms(ds: DataSource) -> str:
    started = ds.inflight_until - rules.policy().lease
    return f"{started:%H:%M:%S} UTC"


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
                "in_progress", f"a rotation or change is in flight at Webex (since {_hms(ds)})"
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


# ------------------------------------------------------------------------- reconciliation
COMPARED = {  # portal field -> Webex field
    "url": "url",
    "schema_id": "schema_id",
    "audience": "audience",
    "subject": "subject",
    "token_lifetime_minutes": "token_lifetime_minutes",
    "status": "status",
    "error_message": "error_message",
}


@dataclass(frozen=True)
class DriftReport:
    available: bool
    opened: int = 0
    cleared: int = 0
    detail: str = ""

    @property
    def summary(self) -> str:
        if not self.available:
            return f"Webex did not answer; nothing changed. {self.detail}"
        if not self.opened and not self.cleared:
            return "Portal and Webex agree."
        return f"{self.opened} new difference(s) found, {self.cleared} cleared."


def _differences(ds: DataSource, remote: RemoteDataSource) -> dict:
    found = {}
    for ours, theirs in COMPARED.items():
        mine, other = getattr(ds, ours), getattr(remote, theirs)
        if str(mine or "") != str(other or ""):
            found[ours] = {"portal": mine, "webex": other}
    return found


def datasources_reconcile_org(*, org: CustomerOrg, actor: Actor | None = None) -> DriftReport:
    """List the org's data sources at Webex and record what differs from the portal: present
    there but unknown here, known here but gone there, fields or status that differ. A finding
    stays open until adopted, repaired or no longer true. Webex silent: nothing changes."""
    from .models import DriftFinding

    if org.status != CustomerOrg.Status.ACTIVE:
        return DriftReport(False, detail=f"{org.name} is {org.get_status_display().lower()}.")
    client = webex_client_for(org.service_app)
    try:
        remote = {
            d.id: d
            for d in _with_refresh(org, lambda a: client.list_datasources(access_token=a), actor)
        }
    except WebexError as exc:
        return DriftReport(False, detail=explain(exc))
    local = {d.webex_id: d for d in DataSource.objects.filter(org=org, deleted_at__isnull=True)}
    wanted: dict[tuple[str, str], tuple[DataSource | None, dict]] = {}
    for webex_id, rds in remote.items():
        if webex_id not in local:
            wanted[(webex_id, DriftFinding.Kind.UNKNOWN_HERE)] = (None, {"url": rds.url})
        elif diff := _differences(local[webex_id], rds):
            wanted[(webex_id, DriftFinding.Kind.DIFFERS)] = (local[webex_id], diff)
    for webex_id, ds in local.items():
        if webex_id not in remote:
            wanted[(webex_id, DriftFinding.Kind.GONE_AT_WEBEX)] = (ds, {"url": ds.url})
    opened = cleared = 0
    now = timezone.now()
    with transaction.atomic():
        open_findings = {
            (f.webex_id, f.kind): f
            for f in DriftFinding.objects.select_for_update().filter(org=org, resolved_at=None)
        }
        for key, finding in open_findings.items():
            if key not in wanted:
                finding.resolved_at, finding.resolution = now, "cleared: no longer differs"
                finding.save(update_fields=["resolved_at", "resolution"])
                cleared += 1
        for (webex_id, kind), (ds, details) in wanted.items():
            if (webex_id, kind) in open_findings:
                continue
            finding = DriftFinding.objects.create(
                org=org,
                datasource=ds,
                webex_id=webex_id,
                kind=kind,
                details=_json_safe(details),
            )
            opened += 1
            audit_record(
                action=Action.DATASOURCE_DRIFT_FOUND,
                summary=f"{org.name}: {finding.get_kind_display().lower()} ({webex_id})",
                actor=actor,
                target_type="datasource",
                target_id=ds.public_id if ds else webex_id,
                target_label=details.get("url", "")[:200],
                org_id=org.public_id,
                changes=details,
            )
    return DriftReport(True, opened, cleared)


def _json_safe(details: dict) -> dict:
    from audit.redaction import json_stable

    return json_stable(details)


def _record_remote(org: CustomerOrg, remote: RemoteDataSource, *, why: str, actor=None):
    """Give a data source that exists only at Webex a row of its own, so that whatever is done
    to it next (rotation, deletion, offboarding) is recorded under its own public id. Its
    nonce is Webex's; the first rotation replaces it with one the portal chose."""
    now = timezone.now()
    with transaction.atomic():
        ds = DataSource(
            org=org,
            webex_id=remote.id,
            schema_id=remote.schema_id,
            url=remote.url,
            audience=remote.audience,
            subject=remote.subject,
            token_lifetime_minutes=remote.token_lifetime_minutes or 60,
            nonce=remote.nonce,
            status=remote.status or Status.ACTIVE,
            error_message=remote.error_message or "",
            token_expires_at=remote.token_expiry_time,
            next_rotation_at=now if (remote.status or Status.ACTIVE) == Status.ACTIVE else None,
        )
        if ds.status == Status.DISABLED and not ds.error_message:
            ds.error_message = "Disabled at Webex"
        ds.full_clean()
        ds.save()
        _audit(
            ds,
            Action.DATASOURCE_ADOPTED,
            f"Recorded {ds.url}, found at Webex only ({why})",
            actor,
            changes={
                "webex_id": {"before": None, "after": ds.webex_id},
                **{k: {"before": None, "after": v} for k, v in _snapshot(ds).items()},
            },
        )
    return ds


def _get_remote(org: CustomerOrg, webex_id: str, actor) -> RemoteDataSource:
    client = webex_client_for(org.service_app)
    return _with_refresh(
        org, lambda a: client.get_datasource(access_token=a, datasource_id=webex_id), actor
    )


# Drift resolution: one small resolver per (kind, resolution). Each writes through the data
# source's own paths (lease, nonce record, audit event under its public id) and returns the
# data source it acted on, or None when no row is involved.
def _adopt_unknown(finding, reason: str, actor):
    """At Webex, unknown here -> record it, then rotate it once (a nonce of our own)."""
    ds = _record_remote(
        finding.org,
        _get_remote(finding.org, finding.webex_id, actor),
        why="drift adopted",
        actor=actor,
    )
    if ds.status == Status.ACTIVE:
        result = datasource_rotate(ds_id=ds.pk, force=True, actor=actor)
        if result.outcome not in ("rotated", "already_rotated", "in_progress"):
            # Recorded and due: the rotation engine retries with the pending nonce.
            logger.warning("adopted %s; first rotation %s", ds.public_id, result.outcome)
    return ds


def _repair_unknown(finding, reason: str, actor):
    """At Webex, unknown here -> delete it there; recorded first so the deletion has a home."""
    try:
        remote = _get_remote(finding.org, finding.webex_id, actor)
    except WebexNotFound:
        return None  # gone meanwhile: the goal is reached
    ds = _record_remote(finding.org, remote, why="drift repair deletes it", actor=actor)
    _delete(ds, reason=reason, summary=f"Deleted {ds.url} at Webex (drift repair)", actor=actor)
    return ds


def _adopt_gone(finding, reason: str, actor):
    """Known here, gone at Webex -> it is deleted: say so here."""
    ds = finding.datasource
    if ds.deleted_at is None:
        ds = _mark_deleted(
            ds,
            reason=reason or "gone at Webex",
            summary=f"{ds.url} is gone at Webex: marked deleted here (drift adopted)",
            actor=actor,
        )
    return ds


def _repair_gone(finding, reason: str, actor):
    """Known here, gone at Webex -> register it there again, with a recorded nonce."""
    ds = finding.datasource
    org = finding.org
    _take_lease(ds)
    nonce = new_nonce()
    NonceRecord.objects.create(datasource=ds, nonce=nonce, purpose="register", attempts=1)
    client = webex_client_for(org.service_app)
    try:
        remote = _with_refresh(
            org,
            lambda a: client.register_datasource(access_token=a, request=_request(ds, nonce=nonce)),
            actor,
        )
    except BaseException as exc:
        with transaction.atomic():
            DataSource.objects.filter(pk=ds.pk).update(inflight_until=None)
            NonceRecord.objects.filter(nonce=nonce).update(
                outcome=NonceRecord.Outcome.FAILED, error=str(exc)[:500]
            )
        raise
    before = _snapshot(ds)
    with transaction.atomic():
        NonceRecord.objects.filter(nonce=nonce).update(
            outcome=NonceRecord.Outcome.OK, token_expires_at=_expiry(remote)
        )
        ds = DataSource.objects.select_for_update().select_related("org").get(pk=ds.pk)
        ds.webex_id, ds.missing_at_webex_since = remote.id, None
        ds.status, ds.error_message = Status.ACTIVE, ""
        _apply_remote(ds, remote, timezone.now())
        ds.full_clean()
        ds.save()
        _audit(
            ds,
            Action.DATASOURCE_REPAIRED,
            f"Registered {ds.url} at Webex again (drift repair)",
            actor,
            reason=reason,
            changes={"webex_id": {"before": finding.webex_id, "after": ds.webex_id}}
            | diff(before, _snapshot(ds)),
        )
    return ds


def _adopt_differs(finding, reason: str, actor):
    """Fields differ -> take Webex's values here."""
    remote = _get_remote(finding.org, finding.webex_id, actor)
    with transaction.atomic():
        ds = (
            DataSource.objects.select_for_update()
            .select_related("org")
            .get(pk=finding.datasource_id)
        )
        before = _snapshot(ds)
        for ours, theirs in COMPARED.items():
            value = getattr(remote, theirs)
            setattr(ds, ours, (value or "") if ours == "error_message" else value)
        if ds.status == Status.DISABLED:
            ds.error_message = ds.error_message or "Disabled at Webex"
            ds.next_rotation_at = None
        ds.pending_nonce = ""
        ds.version += 1
        ds.full_clean()
        ds.save()
        _audit(
            ds,
            Action.DATASOURCE_ADOPTED,
            f"Took Webex's values for {ds.url} (drift adopted)",
            actor,
            reason=reason,
            changes=diff(before, _snapshot(ds)),
        )
    return ds


def _repair_differs(finding, reason: str, actor):
    """Fields differ -> send the portal's full payload (a new, recorded nonce)."""
    ds = finding.datasource
    return _change(
        ds,
        action=Action.DATASOURCE_REPAIRED,
        summary=f"Sent the portal's values for {ds.url} to Webex (drift repair)",
        purpose="repair",
        status=ds.status,
        message=ds.error_message,
        reason=reason,
        actor=actor,
    )


_RESOLVERS = {
    ("unknown_here", "adopt"): _adopt_unknown,
    ("unknown_here", "repair"): _repair_unknown,
    ("gone_at_webex", "adopt"): _adopt_gone,
    ("gone_at_webex", "repair"): _repair_gone,
    ("differs", "adopt"): _adopt_differs,
    ("differs", "repair"): _repair_differs,
}


def drift_resolve(*, finding, resolution: str, reason: str = "", actor: Actor | None = None):
    """Act on a finding. `adopt`: take Webex's side; `repair`: make Webex match the portal.

    - unknown here: adopt records it in the portal (rotating it once, so the portal knows a
      nonce it chose itself); repair deletes it at Webex (needs a reason).
    - gone at Webex: adopt marks it deleted here; repair registers it at Webex again.
    - differs: adopt copies Webex's fields here; repair sends the portal's full payload.
    Every change to a data source is written by its own resolver above, audited under the data
    source's public id; the finding's resolution is audited once more, for the drift list.
    """
    from .models import DriftFinding

    if finding.resolved_at:
        raise ValidationError({"finding": "This finding is already resolved."})
    if resolution not in ("adopt", "repair"):
        raise ValidationError({"resolution": "Choose adopt or repair."})
    org = finding.org
    _require_active_org(org)
    kind = finding.kind
    action = Action.DATASOURCE_REPAIRED if resolution == "repair" else Action.DATASOURCE_ADOPTED
    if kind == DriftFinding.Kind.UNKNOWN_HERE and resolution == "repair" and len(reason) < 5:
        raise ValidationError({"reason": "Deleting at Webex needs a reason (5+ characters)."})
    try:
        ds = _RESOLVERS[(kind, resolution)](
            finding, reason or f"operator chose to {resolution}", actor
        )
    except WebexError as exc:
        audit_record_failure(
            action=action,
            summary=f"Resolving drift {finding.webex_id} ({resolution}) refused by Webex",
            actor=actor,
            target_type="datasource",
            target_id=finding.datasource.public_id if finding.datasource else finding.webex_id,
            org_id=org.public_id,
            error=str(exc),
            tracking_id=exc.tracking_id or "",
            reason=reason or resolution,
        )
        raise DataSourceError(explain(exc), exc) from exc
    with transaction.atomic():
        finding.resolved_at = timezone.now()
        if ds is not None and finding.datasource_id is None:
            finding.datasource = ds
        done = {"adopt": "adopted", "repair": "repaired"}[resolution]
        finding.resolution = done + (f": {reason}" if reason else "")
        finding.save(update_fields=["resolved_at", "resolution", "datasource"])
        audit_record(
            action=action,
            summary=f"{org.name}: {finding.get_kind_display().lower()} {finding.webex_id} {done}",
            actor=actor,
            target_type="datasource",
            target_id=ds.public_id if ds is not None else finding.webex_id,
            target_label=(ds.url if ds is not None else "")[:200],
            org_id=org.public_id,
            reason=reason or f"operator chose to {resolution}",
            changes={"webex_id": finding.webex_id, **finding.details},
        )
    return finding


# ------------------------------------------------------------------------- offboarding
@dataclass(frozen=True)
class OffboardFailure:
    """One data source offboarding could not finish, with what Webex said."""

    datasource: str  # public id
    url: str
    webex_id: str
    status: int | None
    message: str
    tracking_id: str

    def as_dict(self) -> dict:
        return {
            "datasource": self.datasource,
            "url": self.url,
            "webex_id": self.webex_id,
            "status": self.status,
            "message": self.message,
            "tracking_id": self.tracking_id,
        }


@dataclass
class OffboardReport:
    total: int = 0
    done: int = 0
    failures: list[OffboardFailure] = field(default_factory=list)
    detail: str = ""


def datasource_offboard(
    *,
    ds: DataSource,
    mode: str,
    reason: str,
    actor: Actor | None = None,
    tokens: AccessTokens | None = None,
    remote_status: str = "",
) -> DataSource:
    """Offboarding, one data source: disable it at Webex with the reason as the message the
    customer's admin sees, or delete it. Already disabled (here and at Webex) or already
    deleted counts as done. Same paths, lease, nonce records and audit events as the buttons."""
    if mode == "delete":
        if ds.deleted_at is None:
            _delete(
                ds,
                reason=reason,
                summary=f"Offboarding {ds.org.name}: deleted {ds.url} at Webex",
                actor=actor,
                tokens=tokens,
            )
        return DataSource.objects.get(pk=ds.pk)
    if ds.status == Status.DISABLED and remote_status == Status.DISABLED:
        return ds
    return _change(
        ds,
        action=Action.DATASOURCE_DISABLED,
        summary=f"Offboarding {ds.org.name}: disabled {ds.url}",
        purpose="offboard",
        status=Status.DISABLED,
        message=reason[:256],
        reason=reason,
        actor=actor,
        tokens=tokens,
    )


def _close_unreachable(
    ds: DataSource, *, mode: str, reason: str, why: str, actor, gone: bool = False
) -> None:
    """Webex no longer lets the portal act for this org (or the data source is gone there):
    close the row here, saying why, so no row of an offboarded org stays active."""
    if mode == "delete" or gone:
        _mark_deleted(
            ds,
            reason=reason,
            summary=f"Offboarding {ds.org.name}: {ds.url} closed here ({why})",
            actor=actor,
        )
        return
    with transaction.atomic():
        ds = DataSource.objects.select_for_update().select_related("org").get(pk=ds.pk)
        if ds.status == Status.DISABLED and ds.next_rotation_at is None:
            return
        before = _snapshot(ds)
        ds.status, ds.error_message = Status.DISABLED, (ds.error_message or reason)[:256]
        ds.next_rotation_at = None
        ds.pending_nonce = ""
        ds.claimed_until = ds.inflight_until = None
        ds.version += 1
        ds.full_clean()
        ds.save()
        _audit(
            ds,
            Action.DATASOURCE_DISABLED,
            f"Offboarding {ds.org.name}: {ds.url} disabled here only ({why})",
            actor,
            reason=reason,
            changes=diff(before, _snapshot(ds)),
        )


def datasources_offboard_org(
    *,
    org: CustomerOrg,
    actor: Actor | None = None,
    progress: Callable[[OffboardReport], None] | None = None,
) -> OffboardReport:
    """Offboarding's data source step: every data source of the org, known here or found only
    at Webex, is disabled (the offboarding reason as its message) or deleted, each through
    `datasource_offboard`. Idempotent: a re-run resumes with what is left. When Webex no longer
    lets the portal act for the org (it removed the app), rows are closed here with that said.
    `progress` is called after each data source with the report so far."""
    mode, reason = org.offboard_mode, org.offboard_reason
    if org.status != CustomerOrg.Status.OFFBOARDING:
        raise DataSourceError(f"{org.name} is not being offboarded.")
    tokens = AccessTokens()
    client = webex_client_for(org.service_app)
    alive = DataSource.objects.select_related("org__service_app").filter(
        org=org, deleted_at__isnull=True
    )
    try:
        remote = {
            d.id: d
            for d in _with_refresh(
                org, lambda a: client.list_datasources(access_token=a), actor, tokens
            )
        }
    except (WebexForbidden, WebexUnauthorized) as exc:
        why = f"Webex no longer accepts the org's token: {explain(exc)}"
        return datasources_close_org(org=org, why=why, actor=actor)
    except WebexError as exc:
        raise DataSourceError(explain(exc), exc) from exc
    rows = {ds.webex_id: ds for ds in alive}
    for webex_id, found in remote.items():
        if webex_id not in rows:
            rows[webex_id] = _record_remote(org, found, why="found while offboarding", actor=actor)
    report = OffboardReport(total=len(rows))
    for webex_id, ds in rows.items():
        found = remote.get(webex_id)
        try:
            if found is None:
                _close_unreachable(
                    ds, mode=mode, reason=reason, why="gone at Webex", actor=actor, gone=True
                )
            else:
                datasource_offboard(
                    ds=ds,
                    mode=mode,
                    reason=reason,
                    actor=actor,
                    tokens=tokens,
                    remote_status=found.status,
                )
            report.done += 1
        except DataSourceError as exc:
            error = exc.error
            report.failures.append(
                OffboardFailure(
                    datasource=str(ds.public_id),
                    url=ds.url,
                    webex_id=ds.webex_id,
                    status=getattr(error, "status", None),
                    message=exc.reason,
                    tracking_id=(error.tracking_id or "") if error else "",
                )
            )
        if progress is not None:
            progress(report)
    return report


def datasources_close_org(*, org: CustomerOrg, why: str, actor: Actor | None = None):
    """Offboarding an org the portal can no longer act for at Webex: close every row here,
    each with its audit event saying why."""
    rows = list(DataSource.objects.select_related("org").filter(org=org, deleted_at__isnull=True))
    for ds in rows:
        _close_unreachable(
            ds, mode=org.offboard_mode, reason=org.offboard_reason, why=why, actor=actor
        )
    return OffboardReport(total=len(rows), done=len(rows), detail=why)
