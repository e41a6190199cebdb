"""The one activation path: what every way of making an org `active` shares, from asking Webex
for the org's tokens and its authorization snapshot to storing them with the org (`_activate`)."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Collection
from typing import overload

from django.db import transaction

from audit.context import Actor
from audit.redaction import changes
from audit.services import audit_record, audit_record_failure
from audit.vocabulary import Action
from core.errors import PortalError
from core.webex_adapter import explain, webex_client_for
from webex.client import WebexClient
from webex.errors import WebexError
from webex.types import TokenPair

from ..models import CustomerOrg, OrgToken, ServiceApp
from ._common import _org_target
from .lifecycle import TRANSITIONS, org_transition
from .tokens import _store_tokens, _token_summary

logger = logging.getLogger(__name__)
Status = CustomerOrg.Status


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


# With `moved_on`, an org that moved on raises: the saved org is always returned.
@overload
def _activate(
    org: CustomerOrg,
    *,
    pair: TokenPair,
    snapshot: dict | None,
    app: ServiceApp,
    expect: Collection[str],
    action: Action,
    summary: Callable[[CustomerOrg, str | None], str],
    actor: Actor | None,
    now: dt.datetime,
    moved_on: Callable[[CustomerOrg], PortalError],
    details: dict | None = None,
) -> CustomerOrg: ...


# Without it, such an org is None.
@overload
def _activate(
    org: CustomerOrg,
    *,
    pair: TokenPair,
    snapshot: dict | None,
    app: ServiceApp,
    expect: Collection[str],
    action: Action,
    summary: Callable[[CustomerOrg, str | None], str],
    actor: Actor | None,
    now: dt.datetime,
    moved_on: None = None,
    details: dict | None = None,
) -> CustomerOrg | None: ...


def _activate(
    org: CustomerOrg,
    *,
    pair: TokenPair,
    snapshot: dict | None,
    app: ServiceApp,
    expect: Collection[str],
    action: Action,
    summary: Callable[[CustomerOrg, str | None], str],
    actor: Actor | None,
    now: dt.datetime,
    moved_on: Callable[[CustomerOrg], PortalError] | None = None,
    details: dict | None = None,
) -> CustomerOrg | None:
    """The one way an org becomes `active` with a token pair from Webex, in one transaction.

    The entry points (`org_onboard`, the wizard's `org_onboarding_tokens_fetch`,
    `org_tokens_paste`, and `org_tokens_fetch`, through which the webhook's `org_authorized`
    and `serviceapp_reconcile` go) first get the pair and the snapshot from Webex, outside any
    transaction, each with its own checks and refusal handling; then:
    1. the org is locked (a new, unsaved one is created) and its state checked again, since a
       webhook or an offboarding may have moved it meanwhile: when it is no longer one of
       `expect`, nothing is written and `moved_on(org)` is raised (None returned without it);
    2. `details` (the onboarding page's name, region, owner) and the authorization `snapshot`
       are applied; `None` keeps the org's snapshot. A new snapshot is validated and recorded;
    3. the org walks the table to `active`, through `authorized` when it cannot go directly;
    4. the org is saved, the pair stored on its token row (locked) and `action` recorded with
       `summary(org, status before)`: the status change, the snapshot, the tokens' expiry
       times and version, never their values.
    Returns the saved org. One function, longer than most, on purpose: the lock, the re-check
    and every write share one transaction and are read in one place.
    """
    with transaction.atomic():
        if org.pk is not None:
            org = CustomerOrg.objects.select_for_update().get(pk=org.pk)
        before = org.status if org.pk else None
        if org.status not in expect:
            if moved_on is None:
                return None
            raise moved_on(org)
        for field, value in (details or {}).items():
            setattr(org, field, value)
        if snapshot is not None:
            _apply_snapshot(org, app, snapshot, now)
        if org.status != Status.ACTIVE and Status.ACTIVE not in TRANSITIONS[org.status]:
            org_transition(org, Status.AUTHORIZED)
        if org.status != Status.ACTIVE:
            org_transition(org, Status.ACTIVE)
        recorded = {}
        if snapshot is not None:
            org.full_clean()
            recorded = {
                "authorized_domains": {"before": None, "after": org.authorized_domains},
                "authorized_schema_ids": {"before": None, "after": org.authorized_schema_ids},
            }
        org.save()
        token, _ = OrgToken.objects.select_for_update().get_or_create(org=org)
        _store_tokens(token, pair, now=now, refreshed=False)
        token.save()
        audit_record(
            action=action,
            summary=summary(org, before),
            actor=actor,
            **_org_target(org),
            changes={
                "status": {"before": before, "after": org.status},
                **recorded,
                **changes({}, _token_summary(token)),
            },
        )
    return org


def _apply_snapshot(org: CustomerOrg, app: ServiceApp, snapshot: dict, now: dt.datetime) -> None:
    org.authorized_at = snapshot.get("authorized_at") or now
    org.authorized_by = snapshot.get("authorized_by", "")
    org.authorized_domains = snapshot.get("authorized_domains", list(app.valid_domains))
    org.authorized_schema_ids = snapshot.get("authorized_schema_ids", list(app.schema_ids))
