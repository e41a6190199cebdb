"""What every way of activating an org shares: asking Webex for the org's tokens and its
authorization snapshot, and storing them with the org."""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from audit.context import Actor
from audit.redaction import changes
from audit.services import audit_record, audit_record_failure
from audit.vocabulary import Action
from core.webex_adapter import explain, webex_client_for
from webex.client import WebexClient
from webex.errors import WebexError
from webex.types import TokenPair

from ..models import CustomerOrg, OrgToken, ServiceApp
from ._common import _org_target
from .tokens import _store_tokens, _token_summary

logger = logging.getLogger(__name__)


def _snapshot(app: ServiceApp, client: WebexClient, org_uuid: uuid.UUID) -> dict:
    """The org's authorization snapshot from the Service App object at Webex.

    Best effort: that object is not in the public spec. When Webex does not answer, the app's
    current lists are assumed (true for an org that authorized after the last app change).
    """
    return _authorization_at_webex(app, client, org_uuid)[1]


def _authorization_at_webex(
    app: ServiceApp, client: WebexClient, org_uuid: uuid.UUID
) -> tuple[bool, dict]:
    """(did Webex answer, the org's snapshot): `(True, {})` means Webex listed the app's
    authorizations and this org is not among them; `(False, {})` that it did not answer."""
    try:
        info = client.get_service_app(
            integration_token=app.integration_token, client_id=app.client_id
        )
    except WebexError as exc:
        logger.warning("authorization snapshot unavailable for %s: %s", org_uuid, exc)
        return False, {}
    for auth in info.authorizations:
        if auth.org_id == str(org_uuid):
            return True, {
                "authorized_at": auth.authorization_date,
                "authorized_by": auth.authorizer_id,
                "authorized_domains": list(auth.valid_domains),
                "authorized_schema_ids": list(auth.schema_ids),
            }
    return True, {}


def _fetch_tokens(app: ServiceApp, org_uuid: uuid.UUID) -> TokenPair:
    return webex_client_for(app).org_token(
        integration_token=app.integration_token,
        client_id=app.client_id,
        client_secret=app.client_secret,
        target_org_id=str(org_uuid),
    )


def _fetch_tokens_recorded(
    app: ServiceApp,
    org_uuid: uuid.UUID,
    *,
    action: str,
    summary: str,
    target: dict,
    actor: Actor | None,
    explained: bool = False,
) -> TokenPair:
    """`_fetch_tokens`, recording a refusal in the audit trail (with Webex's trackingId)
    before re-raising it for the caller to answer."""
    try:
        return _fetch_tokens(app, org_uuid)
    except WebexError as exc:
        audit_record_failure(
            action=action,
            summary=summary,
            actor=actor,
            **target,
            error=explain(exc) if explained else str(exc),
            tracking_id=exc.tracking_id or "",
        )
        raise


def _save_with_tokens(
    org: CustomerOrg,
    pair: TokenPair,
    *,
    now,
    before: str | None,
    action: Action,
    summary: str,
    actor: Actor | None,
    extra_changes: dict | None = None,
) -> None:
    """Inside the caller's transaction: save the org, store its new token pair, audit both."""
    org.save()
    token, _ = OrgToken.objects.select_for_update().get_or_create(org=org)
    _store_tokens(token, pair, now=now, refreshed=False)
    token.save()
    audit_record(
        action=action,
        summary=summary,
        actor=actor,
        **_org_target(org),
        changes={
            "status": {"before": before, "after": org.status},
            **(extra_changes or {}),
            **changes({}, _token_summary(token)),
        },
    )


def _apply_snapshot(org: CustomerOrg, app: ServiceApp, snapshot: dict, now: dt.datetime) -> None:
    org.authorized_at = snapshot.get("authorized_at") or now
    org.authorized_by = snapshot.get("authorized_by", "")
    org.authorized_domains = snapshot.get("authorized_domains", list(app.valid_domains))
    org.authorized_schema_ids = snapshot.get("authorized_schema_ids", list(app.schema_ids))
