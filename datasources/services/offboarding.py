"""The data sources' side of an org's offboarding: each one disabled (the reason as its
message) or deleted at Webex, or closed here when Webex no longer lets the portal act. The
workflow that drives it is `operations.offboarding`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction

from audit.context import Actor
from audit.redaction import changes as diff
from audit.vocabulary import Action
from core.webex_adapter import explain, webex_client_for
from tenants.models import CustomerOrg
from webex.errors import WebexError, WebexForbidden, WebexUnauthorized

from ..models import DataSource
from ._common import DataSourceError, _audit, _snapshot
from .calls import AccessTokens, _with_refresh
from .drift import _record_remote
from .lifecycle import _change, _delete, _mark_deleted

Status = DataSource.Status


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
    `progress` is called after each data source with the report so far. Kept whole: the one
    listing at Webex decides each row's path (act there, or close here), and that decision
    reads best beside the loop that follows it."""
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
        listed = remote.get(webex_id)
        try:
            if listed is None:
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
                    remote_status=listed.status,
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
