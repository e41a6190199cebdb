"""The partner's Service Apps: adding one, its integration token, its authorization webhooks, and
reconciling the orgs the portal knows with the authorizations Webex lists."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from audit.context import Actor
from audit.redaction import changes
from audit.services import audit_record, audit_record_failure
from audit.vocabulary import Action
from core.domains import approved_domains
from core.webex_adapter import explain, webex_client_for
from webex import ids
from webex.errors import WebexError

from ..models import CustomerOrg, ServiceApp
from .authorization import org_authorized, org_deauthorized
from .lifecycle import WebexRefused

Status = CustomerOrg.Status


def _app_target(app: ServiceApp) -> dict:
    """The audit fields that name a Service App as the target of an event."""
    return {"target_type": "serviceapp", "target_id": app.public_id, "target_label": app.name}


@transaction.atomic
def serviceapp_create(
    *,
    name: str,
    client_id: str,
    client_secret: str,
    valid_domains: list[str],
    schema_ids: list[str],
    region: str,
    integration_token: str,
    integration_token_expires_at: dt.datetime | None = None,
    integration_refresh_token: str = "",
    integration_client_id: str = "",
    integration_client_secret: str = "",
    actor: Actor | None = None,
) -> ServiceApp:
    """Record a Service App from the developer portal. Its rules live here (forms only present
    them): approved domains are plain domain names (core.domains), schema ids are UUIDs, a
    client id is recorded once."""
    app = ServiceApp(
        name=name.strip(),
        client_id=client_id.strip(),
        client_secret=client_secret,
        valid_domains=approved_domains(valid_domains),
        schema_ids=_schema_ids(schema_ids),
        region=region,
        integration_token=integration_token,
        integration_token_expires_at=integration_token_expires_at,
        integration_refresh_token=integration_refresh_token,
        integration_client_id=integration_client_id.strip(),
        integration_client_secret=integration_client_secret,
        webhook_secret=secrets.token_urlsafe(32),
    )
    if ServiceApp.objects.filter(client_id=app.client_id).exists():
        raise ValidationError({"client_id": "A Service App with this client id already exists."})
    app.application_id = ids.application_id(app.client_id)
    app.full_clean()
    app.save()
    audit_record(
        action=Action.SERVICEAPP_CREATED,
        summary=f"Added Service App {app.name}",
        actor=actor,
        **_app_target(app),
        changes={
            "client_id": {"before": None, "after": app.client_id},
            "valid_domains": {"before": None, "after": app.valid_domains},
            "schema_ids": {"before": None, "after": app.schema_ids},
            "region": {"before": None, "after": app.region},
        },
    )
    return app


def _schema_ids(values: list[str]) -> list[str]:
    values = [v.strip() for v in values if v.strip()]
    if not values:
        raise ValidationError({"schema_ids": "List at least one schema id."})
    try:
        return list(dict.fromkeys(str(uuid.UUID(v)) for v in values))
    except ValueError:
        raise ValidationError({"schema_ids": "Each schema id must be a UUID."}) from None


def serviceapp_integration_token_refresh(
    *, app: ServiceApp, force: bool = False, actor: Actor | None = None
) -> str:
    """Refresh the partner's integration token (used to fetch org tokens) before it expires.

    Returns "refreshed", "not_due", "not_refreshable" (no refresh token or client on file:
    a personal token, to be replaced by hand) or "failed" (recorded with Webex's reason).
    Runs under the app's row lock, so concurrent triggers make one call.
    """
    now = timezone.now()
    with transaction.atomic():
        app = ServiceApp.objects.select_for_update().get(pk=app.pk)
        if not (
            app.integration_refresh_token
            and app.integration_client_id
            and app.integration_client_secret
        ):
            return "not_refreshable"
        margin = dt.timedelta(days=settings.INTEGRATION_TOKEN_REFRESH_DAYS_BEFORE)
        expires = app.integration_token_expires_at
        if not force and expires is not None and expires - now > margin:
            return "not_due"
        try:
            pair = webex_client_for(app).refresh_access_token(
                client_id=app.integration_client_id,
                client_secret=app.integration_client_secret,
                refresh_token=app.integration_refresh_token,
            )
        except WebexError as exc:
            failure = exc
        else:
            before = {"integration_token_expires_at": app.integration_token_expires_at}
            app.integration_token = pair.access_token
            app.integration_token_expires_at = pair.access_expires_at
            app.integration_refresh_token = pair.refresh_token
            if pair.refresh_expires_at is not None:
                app.integration_refresh_expires_at = pair.refresh_expires_at
            app.integration_refresh_failures = 0
            app.integration_refresh_error = ""
            app.integration_refresh_failed_at = None
            app.save()
            audit_record(
                action=Action.SERVICEAPP_TOKEN_REFRESHED,
                summary=f"Refreshed the integration token of {app.name}",
                actor=actor,
                **_app_target(app),
                changes=changes(
                    before, {"integration_token_expires_at": app.integration_token_expires_at}
                ),
            )
            return "refreshed"
    reason = explain(failure)  # with its trackingId
    ServiceApp.objects.filter(pk=app.pk).update(
        integration_refresh_failures=F("integration_refresh_failures") + 1,
        integration_refresh_error=reason[:500],
        integration_refresh_failed_at=now,
    )
    audit_record_failure(
        action=Action.SERVICEAPP_TOKEN_REFRESHED,
        summary=f"Refreshing the integration token of {app.name} failed",
        actor=actor,
        **_app_target(app),
        error=explain(failure),
        tracking_id=failure.tracking_id or "",
    )
    return "failed"


def serviceapp_register_webhooks(
    *, app: ServiceApp, target_url: str, actor: Actor | None = None
) -> list[str]:
    """Register the `serviceApp` authorized/deauthorized webhooks at Webex for this app."""
    client = webex_client_for(app)
    created = []
    try:
        for event in ("authorized", "deauthorized"):
            hook = client.create_webhook(
                token=app.integration_token,
                name=f"BYODS portal: {app.name} {event}",
                target_url=target_url,
                resource="serviceApp",
                event=event,
                filter=f"id={app.application_id}",
                secret=app.webhook_secret,
            )
            created.append(hook.id)
    except WebexError as exc:
        audit_record_failure(
            action=Action.WEBHOOK_REGISTERED,
            summary=f"Registering webhooks for {app.name}",
            actor=actor,
            **_app_target(app),
            error=str(exc),
            tracking_id=exc.tracking_id or "",
        )
        raise WebexRefused(explain(exc), exc) from exc
    with transaction.atomic():
        app = ServiceApp.objects.select_for_update().get(pk=app.pk)
        app.webhook_ids = sorted(set(app.webhook_ids) | set(created))
        app.save(update_fields=["webhook_ids", "updated_at"])
        audit_record(
            action=Action.WEBHOOK_REGISTERED,
            summary=f"Registered authorization webhooks for {app.name} -> {target_url}",
            actor=actor,
            **_app_target(app),
            changes={"webhook_ids": {"before": None, "after": created}},
        )
    return created


@dataclass(frozen=True)
class ReconcileReport:
    available: bool
    onboarded: tuple[str, ...] = ()
    paused: tuple[str, ...] = ()
    detail: str = ""

    @property
    def summary(self) -> str:
        if not self.available:
            return f"Webex did not answer; nothing changed. {self.detail}"
        if not self.onboarded and not self.paused:
            return "Portal and Webex agree: nothing to do."
        return f"Onboarded {len(self.onboarded)}, paused {len(self.paused)}."


def serviceapp_reconcile(*, app: ServiceApp, actor: Actor | None = None) -> ReconcileReport:
    """Catch up on missed webhooks: onboard authorizations the portal does not know, pause orgs
    Webex no longer lists. When Webex does not answer, say so and change nothing."""
    client = webex_client_for(app)
    try:
        info = client.get_service_app(
            integration_token=app.integration_token, client_id=app.client_id
        )
    except WebexError as exc:
        return ReconcileReport(available=False, detail=explain(exc))
    at_webex = {a.org_id: a for a in info.authorizations}
    known = {str(o.webex_org_id): o for o in CustomerOrg.objects.filter(service_app=app)}
    onboarded, paused = [], []
    for org_id, auth in at_webex.items():
        org = known.get(org_id)
        if org is None or org.status in (Status.DEAUTHORIZED, Status.OFFBOARDED):
            try:
                org_uuid = uuid.UUID(org_id)
            except ValueError:
                continue
            org_authorized(
                app=app,
                webex_org_id=org_uuid,
                org_name=auth.org_name,
                authorized_at=auth.authorization_date,
                actor=actor,
            )
            onboarded.append(auth.org_name or org_id)
    live = (Status.AUTHORIZED, Status.ACTIVE, Status.REAUTHORIZATION_REQUIRED)
    for org_id, org in known.items():
        if org_id not in at_webex and org.status in live:
            org_deauthorized(app=app, webex_org_id=org.webex_org_id, actor=actor)
            paused.append(org.name)
    report = ReconcileReport(True, tuple(onboarded), tuple(paused))
    with transaction.atomic():
        audit_record(
            action=Action.ORG_RECONCILED,
            summary=f"Reconciled {app.name}: {report.summary}",
            actor=actor,
            **_app_target(app),
            changes={
                "onboarded": {"before": None, "after": list(onboarded)},
                "paused": {"before": None, "after": list(paused)},
            },
        )
    return report
