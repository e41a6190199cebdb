"""What the data source services share: their errors, the nonce, the payload sent to Webex,
the snapshot an audit event compares, and the audit event itself."""

from __future__ import annotations

import secrets

from audit.services import audit_record
from audit.vocabulary import Action
from core.errors import PortalError
from tenants.models import CustomerOrg
from webex.types import DataSourceRequest

from ..models import DataSource


class DataSourceError(PortalError):
    """A data source change refused, by Webex (`error` set) or by its state; the message is
    for staff, with Webex's trackingId."""


class DataSourceBusy(DataSourceError):
    """Another call for this data source may still be in flight at Webex: one at a time."""

    code = "busy"


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


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
