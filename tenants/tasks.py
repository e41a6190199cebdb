"""Celery tasks for orgs: each takes ids, loads, calls one service, and decides retries."""

from __future__ import annotations

import logging
import uuid

from celery import shared_task
from django.utils.dateparse import parse_datetime

from audit.context import Actor, bound
from webex.errors import WebexRateLimited, WebexServerError, WebexTransportError

from . import services
from .models import CustomerOrg, ServiceApp

logger = logging.getLogger(__name__)


@shared_task(
    name="tenants.handle_authorization_webhook",
    autoretry_for=(WebexServerError, WebexTransportError, WebexRateLimited),
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=5,
)
def handle_authorization_webhook(
    app_id: int, event: str, webex_org_id: str, org_name: str = "", authorized_at: str = ""
) -> str:
    """Total: every event in every org state has an outcome (the table in `tenants.services`,
    above `org_authorized`); returns the org's status afterwards, or why nothing was done."""
    app = ServiceApp.objects.filter(pk=app_id).first()
    try:
        org_uuid = uuid.UUID(webex_org_id)
    except ValueError:
        org_uuid = None
    if app is None or org_uuid is None or event not in ("authorized", "deauthorized"):
        # The view lets only known events through; a task queued by another version, or for
        # an app deleted since, is dropped with a trace rather than failing over and over.
        logger.warning(
            "authorization webhook ignored: event %r, app %s, org %r",
            event,
            app_id if app is None else app.name,
            webex_org_id,
        )
        return "ignored"
    org: CustomerOrg | None  # None: a deauthorization for an org the portal does not know
    with bound(actor=Actor.system("webhook:serviceApp." + event)):
        if event == "authorized":
            org = services.org_authorized(
                app=app,
                webex_org_id=org_uuid,
                org_name=org_name,
                authorized_at=parse_datetime(authorized_at) if authorized_at else None,
            )
        else:
            org = services.org_deauthorized(app=app, webex_org_id=org_uuid)
    return org.status if org is not None else "no org"


@shared_task(name="tenants.refresh_sweep")
def refresh_sweep(limit: int = 200) -> int:
    """Beat: claim orgs whose refresh is due and refresh each in its own task."""
    claimed = services.org_tokens_claim_due(limit=limit)
    for org_id in claimed:
        refresh_org_tokens.delay(org_id)
    return len(claimed)


@shared_task(name="tenants.refresh_org_tokens")
def refresh_org_tokens(org_id: int, seen_version: int | None = None) -> str:
    """Failures are handled inside the service (back-off or reauthorization), not retried."""
    with bound(actor=Actor.system("refresh_org_tokens")):
        return services.org_tokens_refresh(org_id=org_id, seen_version=seen_version).outcome


@shared_task(name="tenants.reconcile_authorizations")
def reconcile_authorizations() -> None:
    """Beat: compare each Service App's authorizationsList at Webex with the portal's orgs."""
    for app in ServiceApp.objects.exclude(integration_token=""):
        with bound(actor=Actor.system("reconcile_authorizations")):
            report = services.serviceapp_reconcile(app=app)
        logger.info("reconcile %s: %s", app.name, report.summary)


@shared_task(name="tenants.refresh_integration_tokens")
def refresh_integration_tokens() -> dict[str, int]:
    """Beat, hourly: refresh each Service App's integration token before it expires."""
    outcomes: dict[str, int] = {}
    for app in ServiceApp.objects.exclude(integration_refresh_token=""):
        with bound(actor=Actor.system("refresh_integration_tokens")):
            outcome = services.serviceapp_integration_token_refresh(app=app)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes
