"""Reconciliation: what differs between the portal and Webex (`datasources_reconcile_org`),
and its resolution (`drift_resolve`), one small resolver per kind of finding and side taken."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.context import Actor
from audit.redaction import changes as diff
from audit.services import audit_record, audit_record_failure
from audit.vocabulary import Action
from core.webex_adapter import explain, webex_client_for
from core.words import counted
from tenants.models import CustomerOrg
from webex.errors import WebexError, WebexNotFound
from webex.types import DataSource as RemoteDataSource

from ..models import DataSource, NonceRecord
from ._common import DataSourceError, _audit, _request, _require_active_org, _snapshot, new_nonce
from .calls import _expiry, _take_lease, _with_refresh
from .lifecycle import _change, _delete, _mark_deleted
from .rotation import _apply_remote, datasource_rotate

logger = logging.getLogger(__name__)
Status = DataSource.Status


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
        return f"{counted(self.opened, 'new difference')} found, {self.cleared} cleared."


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
    from ..models import DriftFinding

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
        for (webex_id, kind), (row, details) in wanted.items():
            if (webex_id, kind) in open_findings:
                continue
            finding = DriftFinding.objects.create(
                org=org,
                datasource=row,
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
                target_id=row.public_id if row else webex_id,
                # A "differs" finding holds {"portal": .., "webex": ..} under "url" when the
                # URL is what differs: the label is the portal's URL then.
                target_label=(row.url if row else str(details.get("url", "")))[:200],
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
    from ..models import DriftFinding

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
