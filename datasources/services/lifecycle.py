"""A data source's life as staff drive it: registration, edits, disable, enable, delete and
maintenance windows. `_change`, `_delete` and `_mark_deleted` are the write paths that drift
resolution and offboarding take too, so every change is sent and recorded the same way."""

from __future__ import annotations

import datetime as dt
import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.context import Actor
from audit.redaction import changes as diff
from audit.services import audit_record_failure
from audit.vocabulary import Action
from core.webex_adapter import explain, webex_client_for
from tenants.models import CustomerOrg
from webex.errors import WebexError, WebexNotFound

from ..models import DataSource, NonceRecord
from ..validation import DataSourceInput, validate_datasource
from ._common import (
    DataSourceError,
    _audit,
    _request,
    _require_active_org,
    _snapshot,
    new_nonce,
)
from .calls import AccessTokens, _expiry, _push, _settled_after, _take_lease, _with_refresh
from .expiry import expiry_apply
from .rotation import _apply_remote, _next_rotation

logger = logging.getLogger(__name__)
Status = DataSource.Status


def _validated_for(org: CustomerOrg, **fields) -> DataSourceInput:
    """The rules of datasources/validation.py against what this org authorized."""
    return validate_datasource(
        **fields,
        allowed_schema_ids=org.authorized_schema_ids,
        allowed_domains=org.authorized_domains,
    )


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
    One function on purpose: the call, the row built from Webex's answer and the undo that
    guards storing it are one ordered promise (nothing orphaned at Webex), read in one place.
    """
    data = _validated_for(
        org,
        schema_id=schema_id,
        url=url,
        audience=audience,
        subject=subject,
        token_lifetime_minutes=token_lifetime_minutes,
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
                last_rotated_at=now,
            )
            expiry_apply(ds, _expiry(remote), now)  # bounded by now + lifetime; skew flagged
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
    data = _validated_for(
        org,
        schema_id=schema_id,
        url=url,
        audience=audience,
        subject=subject,
        token_lifetime_minutes=token_lifetime_minutes,
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
