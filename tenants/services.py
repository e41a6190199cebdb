"""Writes for customer orgs, Service Apps and their tokens.

Every state change goes through one function here and records its audit event in the same
transaction. Calls to Webex happen outside transactions, except the token refresh, which holds
the org's token row lock across its single (timeout-bounded) call: that lock is what makes
refresh single-flight, so fifty concurrent triggers make one call (see `org_tokens_refresh`).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import uuid
from dataclasses import dataclass
from typing import NoReturn

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.context import Actor
from audit.redaction import changes
from audit.services import audit_record, audit_record_failure
from audit.vocabulary import Action
from core import policy as rules
from core.errors import PortalError
from core.webex_adapter import explain, webex_client_for
from webex import ids
from webex.client import WebexClient
from webex.errors import (
    WebexError,
    WebexForbidden,
    WebexInvalidGrant,
    WebexUnauthorized,
)
from webex.types import TokenPair

from .models import CustomerOrg, OrgToken, ServiceApp

logger = logging.getLogger(__name__)
Status = CustomerOrg.Status

# The org life cycle. Everything else is illegal and raises.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.PENDING: frozenset({Status.AUTHORIZED, Status.DEAUTHORIZED, Status.OFFBOARDING}),
    Status.AUTHORIZED: frozenset(
        {Status.ACTIVE, Status.REAUTHORIZATION_REQUIRED, Status.DEAUTHORIZED, Status.OFFBOARDING}
    ),
    Status.ACTIVE: frozenset(
        {Status.REAUTHORIZATION_REQUIRED, Status.DEAUTHORIZED, Status.OFFBOARDING}
    ),
    Status.REAUTHORIZATION_REQUIRED: frozenset(
        {Status.AUTHORIZED, Status.ACTIVE, Status.DEAUTHORIZED, Status.OFFBOARDING}
    ),
    Status.DEAUTHORIZED: frozenset({Status.AUTHORIZED, Status.OFFBOARDING}),
    Status.OFFBOARDING: frozenset({Status.OFFBOARDED}),
    Status.OFFBOARDED: frozenset({Status.AUTHORIZED}),  # the admin authorized again: revive
}


class IllegalTransition(PortalError):
    code = "illegal_transition"


class WebexRefused(PortalError):
    """Webex refused an org-level call; the message is written for staff, with the trackingId."""

    code = "webex_refused"


def org_transition(org: CustomerOrg, to: str) -> str:
    """Move `org` to status `to` in memory (the caller saves); returns the previous status."""
    if to not in TRANSITIONS[org.status]:
        raise IllegalTransition(f"{org.name}: {org.status} -> {to} is not allowed")
    previous = org.status
    org.status = to
    org.status_changed_at = timezone.now()
    org.version += 1
    return previous


# ------------------------------------------------------------------------- Service Apps
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
    app = ServiceApp(
        name=name.strip(),
        client_id=client_id.strip(),
        client_secret=client_secret,
        valid_domains=[d.strip().lower() for d in valid_domains if d.strip()],
        schema_ids=[s.strip() for s in schema_ids if s.strip()],
        region=region,
        integration_token=integration_token,
        integration_token_expires_at=integration_token_expires_at,
        integration_refresh_token=integration_refresh_token,
        integration_client_id=integration_client_id.strip(),
        integration_client_secret=integration_client_secret,
        webhook_secret=secrets.token_urlsafe(32),
    )
    app.application_id = ids.application_id(app.client_id)
    app.full_clean()
    app.save()
    audit_record(
        action=Action.SERVICEAPP_CREATED,
        summary=f"Added Service App {app.name}",
        actor=actor,
        target_type="serviceapp",
        target_id=app.public_id,
        target_label=app.name,
        changes={
            "client_id": {"before": None, "after": app.client_id},
            "valid_domains": {"before": None, "after": app.valid_domains},
            "schema_ids": {"before": None, "after": app.schema_ids},
            "region": {"before": None, "after": app.region},
        },
    )
    return app


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
            app.save()
            audit_record(
                action=Action.SERVICEAPP_TOKEN_REFRESHED,
                summary=f"Refreshed the integration token of {app.name}",
                actor=actor,
                target_type="serviceapp",
                target_id=app.public_id,
                target_label=app.name,
                changes=changes(
                    before, {"integration_token_expires_at": app.integration_token_expires_at}
                ),
            )
            return "refreshed"
    audit_record_failure(
        action=Action.SERVICEAPP_TOKEN_REFRESHED,
        summary=f"Refreshing the integration token of {app.name} failed",
        actor=actor,
        target_type="serviceapp",
        target_id=app.public_id,
        target_label=app.name,
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
            target_type="serviceapp",
            target_id=app.public_id,
            target_label=app.name,
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
            target_type="serviceapp",
            target_id=app.public_id,
            target_label=app.name,
            changes={"webhook_ids": {"before": None, "after": created}},
        )
    return created


# ------------------------------------------------------------------------- onboarding
def parse_org_id(value: str) -> uuid.UUID:
    try:
        return ids.org_uuid(value)
    except ValueError:
        raise ValidationError(
            {"webex_org_id": "Enter the org's Webex id: a UUID or its base64 ciscospark:// form."}
        ) from None


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


def _store_tokens(token: OrgToken, pair: TokenPair, *, now: dt.datetime, refreshed: bool) -> None:
    token.access_token = pair.access_token
    token.access_expires_at = pair.access_expires_at
    token.refresh_token = pair.refresh_token
    if pair.refresh_expires_at is not None:
        token.refresh_expires_at = pair.refresh_expires_at
    if refreshed:
        token.last_refreshed_at = now
    else:
        token.obtained_at = now
    token.next_refresh_at = rules.next_refresh_at(access_expires_at=pair.access_expires_at, now=now)
    token.claimed_until = None
    token.consecutive_failures = 0
    token.last_error = ""
    token.last_tracking_id = ""
    token.destroyed_at = None
    token.version += 1


def _token_summary(token: OrgToken) -> dict:
    """What the audit trail keeps about tokens: expiry times and version, never values."""
    return {
        "access_expires_at": token.access_expires_at,
        "refresh_expires_at": token.refresh_expires_at,
        "token_version": token.version,
    }


def _org_target(org: CustomerOrg) -> dict:
    """The audit fields that name an org as the target of an event."""
    return {
        "target_type": "org",
        "target_id": org.public_id,
        "target_label": org.name,
        "org_id": org.public_id,
    }


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


def _save_onboarded(org: CustomerOrg, pair: TokenPair, *, now, before, actor) -> None:
    """Save an org that has just become active with its first tokens (the onboarding page and
    the wizard's token step), recording what Webex authorized."""
    org.full_clean()
    _save_with_tokens(
        org,
        pair,
        now=now,
        before=before,
        action=Action.ORG_ONBOARDED,
        summary=f"Onboarded {org.name} and fetched its tokens",
        actor=actor,
        extra_changes={
            "authorized_domains": {"before": None, "after": org.authorized_domains},
            "authorized_schema_ids": {"before": None, "after": org.authorized_schema_ids},
        },
    )


def org_onboard(
    *,
    app: ServiceApp,
    webex_org_id: str,
    name: str,
    region: str,
    owner=None,
    actor: Actor | None = None,
) -> CustomerOrg:
    """Staff onboarding: fetch the org's tokens now; on success the org is `active`.

    When Webex refuses, nothing is stored (a failed attempt is audited) and `WebexRefused`
    carries a reason staff can act on.
    """
    org_uuid = parse_org_id(webex_org_id)
    existing = CustomerOrg.objects.filter(service_app=app, webex_org_id=org_uuid).first()
    if existing and existing.status != Status.OFFBOARDED:
        state = existing.get_status_display()
        raise ValidationError(
            {"webex_org_id": f"This org is already onboarded as “{existing.name}” ({state})."}
        )
    client = webex_client_for(app)
    now = timezone.now()
    try:
        pair = _fetch_tokens_recorded(
            app,
            org_uuid,
            action=Action.ORG_ONBOARDED,
            summary=f"Onboarding {name} refused by Webex",
            target={"target_type": "org", "target_id": org_uuid, "target_label": name},
            actor=actor,
        )
    except WebexError as exc:
        raise WebexRefused(explain(exc), exc) from exc
    snapshot = _snapshot(app, client, org_uuid)
    with transaction.atomic():
        org = existing or CustomerOrg(service_app=app, webex_org_id=org_uuid)
        org = CustomerOrg.objects.select_for_update().get(pk=org.pk) if org.pk else org
        before_status = org.status if org.pk else None
        org.name, org.region, org.owner = name.strip(), region, owner
        _apply_snapshot(org, app, snapshot, now)
        if org.pk is None:
            org.status = Status.PENDING
        org_transition(org, Status.AUTHORIZED)
        org_transition(org, Status.ACTIVE)
        _save_onboarded(org, pair, now=now, before=before_status, actor=actor)
    return org


# The onboarding wizard keeps its progress in the org row: step 2 creates the org `pending`,
# step 3 fetches its tokens (-> `active`), so a half-finished wizard resumes from the org page.
WIZARD_RESUMABLE = (Status.PENDING, Status.AUTHORIZED)


@transaction.atomic
def org_onboarding_start(
    *,
    app: ServiceApp,
    webex_org_id: str,
    name: str,
    region: str,
    owner=None,
    actor: Actor | None = None,
) -> CustomerOrg:
    """Wizard step 2: record the org as `pending` before anything is asked of Webex.

    Starting again for an org that is still pending or authorized (a wizard left half-way)
    updates that row instead of refusing, so nobody is stuck on their own earlier attempt.
    """
    org_uuid = parse_org_id(webex_org_id)
    org = (
        CustomerOrg.objects.select_for_update()
        .filter(service_app=app, webex_org_id=org_uuid)
        .first()
    )
    if org is not None and org.status not in WIZARD_RESUMABLE:
        state = org.get_status_display()
        raise ValidationError(
            {"webex_org_id": f"This org is already onboarded as “{org.name}” ({state})."}
        )
    before = None if org is None else {"name": org.name, "region": org.region}
    org = org or CustomerOrg(service_app=app, webex_org_id=org_uuid, status=Status.PENDING)
    org.name, org.region, org.owner = name.strip(), region, owner
    org.full_clean()
    org.save()
    audit_record(
        action=Action.ORG_ONBOARDING_STARTED,
        summary=f"Started onboarding {org.name} with {app.name}",
        actor=actor,
        **_org_target(org),
        changes=changes(
            before or {"status": None},
            {"name": org.name, "region": org.region}
            | ({"status": org.status} if before is None else {}),
        ),
    )
    return org


def org_onboarding_tokens_fetch(*, org: CustomerOrg, actor: Actor | None = None) -> CustomerOrg:
    """Wizard step 3: fetch the org's tokens and take the authorization snapshot; the org
    becomes `active`. When Webex refuses, the org stays as it was (the failure is audited) and
    `WebexRefused` carries a reason staff can act on, so they can retry after the admin acts."""
    if org.status not in WIZARD_RESUMABLE:
        raise IllegalTransition(
            f"{org.name} is {org.get_status_display().lower()}: its tokens are not fetched here."
        )
    app = org.service_app
    try:
        pair = _fetch_tokens_recorded(
            app,
            org.webex_org_id,
            action=Action.ORG_ONBOARDED,
            summary=f"Fetching tokens for {org.name} refused by Webex",
            target=_org_target(org),
            actor=actor,
        )
    except WebexError as exc:
        raise WebexRefused(explain(exc), exc) from exc
    snapshot = _snapshot(app, webex_client_for(app), org.webex_org_id)
    now = timezone.now()
    with transaction.atomic():
        org = CustomerOrg.objects.select_for_update().get(pk=org.pk)
        if org.status not in WIZARD_RESUMABLE:  # changed meanwhile (webhook, offboarding)
            raise IllegalTransition(f"{org.name} became {org.get_status_display().lower()}.")
        before = org.status
        _apply_snapshot(org, app, snapshot, now)
        if org.status == Status.PENDING:
            org_transition(org, Status.AUTHORIZED)
        org_transition(org, Status.ACTIVE)
        _save_onboarded(org, pair, now=now, before=before, actor=actor)
    return org


def _apply_snapshot(org: CustomerOrg, app: ServiceApp, snapshot: dict, now: dt.datetime) -> None:
    org.authorized_at = snapshot.get("authorized_at") or now
    org.authorized_by = snapshot.get("authorized_by", "")
    org.authorized_domains = snapshot.get("authorized_domains", list(app.valid_domains))
    org.authorized_schema_ids = snapshot.get("authorized_schema_ids", list(app.schema_ids))


# A token is one opaque word: anything with spaces, line breaks or control characters is a
# copy-and-paste slip, refused here so it never reaches Webex (or an Authorization header).
TOKEN_MAX_LENGTH = 4096


def _token_shape_error(value: str, label: str) -> str:
    if not value:
        return f"Paste the {label}."
    if len(value) > TOKEN_MAX_LENGTH:
        return f"The {label} is longer than {TOKEN_MAX_LENGTH} characters: paste only the token."
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        return (
            f"The {label} is one word of printable characters: this one has spaces, line "
            "breaks or control characters."
        )
    return ""


def _tid(exc: WebexError) -> str:
    return f" (Webex trackingId {exc.tracking_id})" if exc.tracking_id else ""


def _paste_verify(
    org: CustomerOrg, *, access_token: str, refresh_token: str, actor: Actor | None
) -> tuple[TokenPair, dict]:
    """Prove a pasted pair with Webex before anything is stored; returns the pair to store
    (Webex's answer to the refresh) and the org's authorization snapshot.

    1. The access token lists the org's data sources (`GET /dataSources`, a read): 401 means
       Webex does not know it, 403 that its org does not authorize the app (or the scope is
       missing). Data sources it shows must be this org's and this app's.
    2. The Service App object's `authorizationsList` (best effort) gives the snapshot; when
       Webex answers and this org is not in it, the working token can only be another org's.
    3. The refresh token is used once (`POST /access_token` with the app's credentials): the
       only proof Webex offers that it is alive and was issued to this app. Its answer is what
       is stored, so a rotating refresh token is never lost.
    Webex has no read that names a token's org directly: an org without data sources is
    matched only through step 2. Each refusal is audited (with Webex's trackingId) and raised
    as a ValidationError naming the field; a Webex outage is `WebexRefused`.
    """
    app = org.service_app
    client = webex_client_for(app)
    target = _org_target(org)

    def refuse(field: str, message: str, exc: WebexError | None = None) -> NoReturn:
        audit_record_failure(
            action=Action.ORG_TOKENS_FETCHED,
            summary=f"Pasted tokens for {org.name} refused: the {field.replace('_', ' ')}",
            actor=actor,
            **target,
            error=f"{field}: {message}",
            tracking_id=(exc.tracking_id if exc else "") or "",
        )
        raise ValidationError({field: message})

    def unavailable(exc: WebexError) -> NoReturn:
        audit_record_failure(
            action=Action.ORG_TOKENS_FETCHED,
            summary=f"Checking pasted tokens for {org.name} failed at Webex",
            actor=actor,
            **target,
            error=explain(exc),
            tracking_id=exc.tracking_id or "",
        )
        raise WebexRefused(f"Nothing was stored. {explain(exc)}", exc)

    try:
        found = client.list_datasources(access_token=access_token)
    except WebexUnauthorized as exc:
        refuse(
            "access_token",
            "Webex does not accept this access token: it is unknown, expired or revoked"
            f"{_tid(exc)}. Paste a current access token of {app.name} for this org.",
            exc,
        )
    except WebexForbidden as exc:
        refuse(
            "access_token",
            f"Webex refused this access token for data sources: its org does not authorize "
            f"{app.name}, or the token lacks spark-admin:datasource_read{_tid(exc)}.",
            exc,
        )
    except WebexError as exc:
        unavailable(exc)
    orgs = {_plain_uuid(d.org_id) for d in found if d.org_id}
    if orgs - {str(org.webex_org_id)}:
        refuse(
            "access_token",
            f"This access token belongs to another org: its data sources are org "
            f"{', '.join(sorted(orgs - {str(org.webex_org_id)}))}'s, not {org.name}'s "
            f"({org.webex_org_id}).",
        )
    apps = {d.application_id for d in found if d.application_id}
    if apps - {app.client_id, app.application_id}:
        refuse(
            "access_token",
            f"This access token is another Service App's: its data sources are not {app.name}'s.",
        )
    answered, snapshot = _authorization_at_webex(app, client, org.webex_org_id)
    if answered and not snapshot:
        refuse(
            "access_token",
            f"Webex does not list {org.name} ({org.webex_org_id}) among the orgs that "
            f"authorized {app.name}, yet this token works: it belongs to another org.",
        )
    try:
        pair = client.refresh_access_token(
            client_id=app.client_id, client_secret=app.client_secret, refresh_token=refresh_token
        )
    except WebexInvalidGrant as exc:
        refuse(
            "refresh_token",
            "Webex refused this refresh token: it is unknown, expired, revoked or was not "
            f"issued to {app.name}{_tid(exc)}.",
            exc,
        )
    except WebexError as exc:
        unavailable(exc)
    return pair, snapshot


def _plain_uuid(value: str) -> str:
    try:
        return str(ids.org_uuid(value))
    except ValueError:
        return value


def org_tokens_paste(
    *,
    org: CustomerOrg,
    access_token: str,
    refresh_token: str,
    access_expires_at: dt.datetime | None = None,
    refresh_expires_at: dt.datetime | None = None,
    actor: Actor | None = None,
) -> CustomerOrg:
    """Sandbox: take a token pair pasted by staff, for orgs without the webhook flow.

    The pair is proven with Webex first (`_paste_verify`) and the org's authorization snapshot
    is taken, so the org becomes `active` ready to register data sources. A bad pair is
    refused with a ValidationError naming the field (`access_token`, `refresh_token`,
    `access_expires_at`) and nothing is stored: the org row and its tokens stay as they were,
    and the refused attempt is audited with Webex's trackingId. The expiry times stored are
    Webex's (from the verifying refresh), not the ones typed in, which only guard against
    pasting a pair already known to be expired.
    """
    now = timezone.now()
    access_token, refresh_token = access_token.strip(), refresh_token.strip()
    problems = [
        ("access_token", _token_shape_error(access_token, "access token")),
        ("refresh_token", _token_shape_error(refresh_token, "refresh token")),
        (
            "refresh_token",
            "The refresh token must differ from the access token: paste each in its box."
            if access_token and access_token == refresh_token
            else "",
        ),
        (
            "access_expires_at",
            "The access token has already expired: paste a current one."
            if access_expires_at is not None and access_expires_at <= now
            else "",
        ),
        (
            "refresh_expires_at",
            "The refresh token has already expired: the org's admin must reauthorize."
            if refresh_expires_at is not None and refresh_expires_at <= now
            else "",
        ),
    ]
    errors: dict[str, list[str]] = {}
    for field, problem in problems:
        if problem:
            errors.setdefault(field, []).append(problem)
    if errors:
        raise ValidationError(errors)
    if org.status == Status.OFFBOARDING:
        raise IllegalTransition(f"{org.name} is being offboarded: tokens are not taken now.")
    pair, snapshot = _paste_verify(
        org, access_token=access_token, refresh_token=refresh_token, actor=actor
    )
    app = org.service_app
    with transaction.atomic():
        org = CustomerOrg.objects.select_for_update().get(pk=org.pk)
        if org.status == Status.OFFBOARDING:  # offboarding started meanwhile
            raise IllegalTransition(f"{org.name} is being offboarded: tokens are not taken now.")
        before = org.status
        _apply_snapshot(org, app, snapshot, now)
        if org.status in (Status.PENDING, Status.DEAUTHORIZED, Status.OFFBOARDED):
            org_transition(org, Status.AUTHORIZED)
        if org.status != Status.ACTIVE:
            org_transition(org, Status.ACTIVE)
        org.full_clean()
        _save_with_tokens(
            org,
            pair,
            now=now,
            before=before,
            action=Action.ORG_TOKENS_FETCHED,
            summary=f"Stored a hand-pasted token pair for {org.name}, verified with Webex",
            actor=actor,
            extra_changes={
                "authorized_domains": {"before": None, "after": org.authorized_domains},
                "authorized_schema_ids": {"before": None, "after": org.authorized_schema_ids},
            },
        )
    return org


# ------------------------------------------------------------------------- webhook reactions
def _noop(
    app: ServiceApp,
    org: CustomerOrg | None,
    event: str,
    why: str,
    actor: Actor | None,
    webex_org_id: uuid.UUID,
) -> None:
    """Record that an authorization event changed nothing, and why (inside a transaction)."""
    logger.info("serviceApp.%s for org %s: nothing to do (%s)", event, webex_org_id, why)
    target = (
        _org_target(org)
        if org is not None
        else {
            "target_type": "serviceapp",
            "target_id": app.public_id,
            "target_label": app.name,
        }
    )
    audit_record(
        action=Action.WEBHOOK_RECEIVED,
        summary=f"serviceApp.{event} for {org.name if org else f'org {webex_org_id}'}: "
        f"nothing to do, {why}",
        actor=actor,
        **target,
    )


def _snapshot_fields(org: CustomerOrg) -> dict:
    return {
        "authorized_at": org.authorized_at,
        "authorized_by": org.authorized_by,
        "authorized_domains": list(org.authorized_domains),
        "authorized_schema_ids": list(org.authorized_schema_ids),
    }


def _tokens_rejected(org: CustomerOrg) -> bool:
    """Does Webex refuse the org's stored access token (401/403)? One read of one item; any
    other failure counts as "not known to be rejected", so a Webex hiccup changes nothing."""
    token = OrgToken.objects.filter(org=org).first()
    if token is None or not token.has_tokens:
        return True
    client = webex_client_for(org.service_app)
    try:
        next(client.iter_datasources(access_token=token.access_token, page_size=1), None)
    except (WebexUnauthorized, WebexForbidden):
        return True
    except WebexError as exc:
        logger.warning("could not check the tokens of %s: %s", org.name, exc)
    return False


def org_authorized(
    *,
    app: ServiceApp,
    webex_org_id: uuid.UUID,
    org_name: str = "",
    authorized_at: dt.datetime | None = None,
    actor: Actor | None = None,
) -> CustomerOrg:
    """An org's admin authorized the app. What the Service App's authorization webhook
    does in each org state (the webhook task and reconciliation call this and
    `org_deauthorized`); every cell is idempotent, so delivering the same event again changes
    nothing, and none raises:

    | org state                | `authorized`                            | `deauthorized`      |
    |--------------------------|-----------------------------------------|---------------------|
    | no org yet               | create; snapshot; fetch tokens: active  | no-op               |
    | pending (wizard step 2)  | snapshot; fetch tokens: active          | pause: deauthorized |
    | authorized               | snapshot; fetch tokens: active          | pause: deauthorized |
    | active                   | re-authorization: refresh the snapshot, | pause: deauthorized |
    |                          | stay active; new tokens only if Webex   |                     |
    |                          | no longer accepts the stored ones       |                     |
    | reauthorization_required | snapshot; fetch tokens: active          | pause: deauthorized |
    | deauthorized             | resume: snapshot; fetch tokens: active  | no-op               |
    | offboarding              | no-op (the offboarding goes on)         | no-op               |
    | offboarded               | revive: snapshot; fetch tokens: active  | no-op               |

    "Fetch tokens" that Webex refuses leaves the org `authorized` (audited with the
    trackingId) for the wizard, reconciliation or the next event to finish. "Pause" stops
    token refresh; the rotation engine skips orgs that are not active. A no-op is logged and
    audited as `webhook.received`. Any other event or resource is refused at the door
    (`tenants.webhooks.verify_delivery`: 400, logged, nothing stored or queued) and, should
    one reach the task, logged and ignored there.

    A re-authorization takes Webex's new snapshot; when Webex shows none, the current one is
    kept (an active org's allowances are never widened on a guess). The stored tokens are
    checked with one read, and replaced only when Webex rejects them: a deauthorization
    whose webhook was missed revokes them.
    """
    known = CustomerOrg.objects.filter(service_app=app, webex_org_id=webex_org_id).first()
    if known is not None and known.status == Status.OFFBOARDING:
        with transaction.atomic():
            _noop(app, known, "authorized", "it is being offboarded", actor, webex_org_id)
        return known
    snapshot = _snapshot(app, webex_client_for(app), webex_org_id)
    now = timezone.now()
    with transaction.atomic():
        org = (
            CustomerOrg.objects.select_for_update()
            .filter(service_app=app, webex_org_id=webex_org_id)
            .first()
        )
        if org is not None and org.status == Status.OFFBOARDING:  # started meanwhile
            _noop(app, org, "authorized", "it is being offboarded", actor, webex_org_id)
            return org
        if org is not None and org.status == Status.ACTIVE:
            _reauthorized(org, app, snapshot, actor)
            reauthorization = True
        else:
            reauthorization = False
            if authorized_at and not snapshot.get("authorized_at"):
                snapshot["authorized_at"] = authorized_at
            org = _authorized_from(org, app, webex_org_id, org_name, snapshot, now, actor)
    if not reauthorization or _tokens_rejected(org):
        org_tokens_fetch(org=org, actor=actor)
    org.refresh_from_db()
    return org


def _authorized_from(
    org: CustomerOrg | None,
    app: ServiceApp,
    webex_org_id: uuid.UUID,
    org_name: str,
    snapshot: dict,
    now: dt.datetime,
    actor: Actor | None,
) -> CustomerOrg:
    """Inside the caller's transaction: create or move a not-active org to `authorized`."""
    created = org is None
    if org is None:
        org = CustomerOrg(
            service_app=app,
            webex_org_id=webex_org_id,
            status=Status.PENDING,
            name=org_name or f"Org {str(webex_org_id)[:8]}",
            region=app.region,
        )
    before = None if created else org.status
    previous = _snapshot_fields(org)
    if org.status != Status.AUTHORIZED:
        org_transition(org, Status.AUTHORIZED)
    _apply_snapshot(org, app, snapshot, now)
    org.save()
    audit_record(
        action=Action.ORG_AUTHORIZED,
        summary=f"{org.name} authorized {app.name}" + (" (new org)" if created else ""),
        actor=actor,
        **_org_target(org),
        changes={"status": {"before": before, "after": org.status}}
        | changes(
            {k: previous[k] for k in ("authorized_domains", "authorized_schema_ids")},
            {k: getattr(org, k) for k in ("authorized_domains", "authorized_schema_ids")},
        ),
    )
    return org


def _reauthorized(org: CustomerOrg, app: ServiceApp, snapshot: dict, actor: Actor | None) -> None:
    """Inside the caller's transaction: an active org authorized again. Take Webex's snapshot
    if it differs; status and tokens stay."""
    if not snapshot:
        _noop(
            app,
            org,
            "authorized",
            "it is active and Webex showed no new snapshot (the current one is kept)",
            actor,
            org.webex_org_id,
        )
        return
    previous = _snapshot_fields(org)
    _apply_snapshot(org, app, snapshot, org.authorized_at or timezone.now())
    if _snapshot_fields(org) == previous:
        _noop(app, org, "authorized", "its snapshot is unchanged", actor, org.webex_org_id)
        return
    org.version += 1
    org.save()
    audit_record(
        action=Action.ORG_AUTHORIZED,
        summary=f"{org.name} authorized {app.name} again: new authorization snapshot",
        actor=actor,
        **_org_target(org),
        changes=changes(previous, _snapshot_fields(org)),
    )


def org_tokens_fetch(*, org: CustomerOrg, actor: Actor | None = None) -> bool:
    """Fetch tokens for an `authorized` (or `reauthorization_required`) org and make it
    `active`; an `active` org whose tokens Webex no longer accepts gets a new pair and stays
    active. Returns False when Webex refused (recorded, org unchanged) or the org moved on."""
    app = org.service_app
    try:
        pair = _fetch_tokens_recorded(
            app,
            org.webex_org_id,
            action=Action.ORG_TOKENS_FETCHED,
            summary=f"Fetching tokens for {org.name} failed",
            target=_org_target(org),
            actor=actor,
            explained=True,
        )
    except WebexError:
        return False
    now = timezone.now()
    with transaction.atomic():
        org = CustomerOrg.objects.select_for_update().get(pk=org.pk)
        if org.status not in (Status.AUTHORIZED, Status.REAUTHORIZATION_REQUIRED, Status.ACTIVE):
            return False  # deauthorized or offboarded meanwhile: do not revive by accident
        before = org.status
        if org.status != Status.ACTIVE:
            org_transition(org, Status.ACTIVE)
        _save_with_tokens(
            org,
            pair,
            now=now,
            before=before,
            action=Action.ORG_TOKENS_FETCHED,
            summary=f"Fetched tokens for {org.name}"
            + (": Webex no longer accepted the stored ones" if before == Status.ACTIVE else ""),
            actor=actor,
        )
    return True


@transaction.atomic
def org_deauthorized(
    *, app: ServiceApp, webex_org_id: uuid.UUID, actor: Actor | None = None
) -> CustomerOrg | None:
    """The org's admin removed the app (the table is in `org_authorized`): a pending,
    authorized, active or reauthorization-required org becomes `deauthorized`. Its data
    sources' rotation pauses (the rotation engine skips orgs that are not active) and its token
    refresh stops. Its tokens are dead at Webex; they are kept until offboarding destroys them,
    so the record shows what was held. An unknown, already deauthorized, offboarding or
    offboarded org is a no-op (logged and audited)."""
    org = (
        CustomerOrg.objects.select_for_update()
        .filter(service_app=app, webex_org_id=webex_org_id)
        .first()
    )
    if org is None:
        _noop(app, None, "deauthorized", "the portal does not know this org", actor, webex_org_id)
        return None
    if org.status in (Status.DEAUTHORIZED, Status.OFFBOARDING, Status.OFFBOARDED):
        why = f"it is already {org.get_status_display().lower()}"
        _noop(app, org, "deauthorized", why, actor, webex_org_id)
        return org
    before = org_transition(org, Status.DEAUTHORIZED)
    org.save()
    OrgToken.objects.filter(org=org).update(next_refresh_at=None, claimed_until=None)
    audit_record(
        action=Action.ORG_DEAUTHORIZED,
        summary=f"{org.name} removed {app.name}: rotation paused",
        actor=actor,
        **_org_target(org),
        changes={"status": {"before": before, "after": org.status}},
    )
    return org


# ------------------------------------------------------------------------- refresh
@dataclass(frozen=True)
class RefreshResult:
    # refreshed | already_refreshed | not_due | skipped | failed | reauthorization_required
    outcome: str
    version: int
    detail: str = ""


def org_token_due(token: OrgToken, now: dt.datetime) -> bool:
    return token.next_refresh_at is not None and token.next_refresh_at <= now


def _refreshed_since(token: OrgToken, seen_version: int | None, now: dt.datetime) -> bool:
    if token.last_refreshed_at is None:
        return False
    if seen_version is not None and token.version != seen_version:
        return True
    return rules.coalesces(token.last_refreshed_at, now)


def org_tokens_refresh(
    *,
    org_id: int,
    seen_version: int | None = None,
    force: bool = False,
    actor: Actor | None = None,
) -> RefreshResult:
    """Refresh an org's access token, single-flight.

    The token row is locked for the refresh and the need re-checked after taking the lock:
    concurrent callers queue on the lock and then find the work done. `seen_version` is the
    token version the caller saw: a caller that got a 401 refreshes only if nobody has replaced
    that token yet; a "refresh now" (`force`: button, API) is answered `already_refreshed` when
    the token was refreshed since it looked or within SINGLE_FLIGHT_SECONDS. So fifty
    concurrent callers of either kind cause one call to Webex.
    """
    now = timezone.now()
    with transaction.atomic():
        token = (
            OrgToken.objects.select_for_update()
            .select_related("org__service_app")
            .get(org_id=org_id)
        )
        org = token.org
        # An org being offboarded still needs a live token to disable or delete its data sources.
        usable = (Status.ACTIVE, Status.AUTHORIZED, Status.OFFBOARDING)
        if org.status not in usable or not token.has_tokens:
            return RefreshResult("skipped", token.version, f"org is {org.status}")
        if force and _refreshed_since(token, seen_version, now):
            return RefreshResult(
                "already_refreshed",
                token.version,
                f"refreshed by a concurrent request at {token.last_refreshed_at:%H:%M:%S} UTC",
            )
        if seen_version is not None:
            if token.version != seen_version:
                return RefreshResult("not_due", token.version, "already replaced")
        elif not force and not org_token_due(token, now):
            return RefreshResult("not_due", token.version)
        app = org.service_app
        try:
            # The one network call made under a row lock, bounded by the client's timeouts:
            # holding the lock is what keeps a second refresh from starting meanwhile.
            pair = webex_client_for(app).refresh_access_token(
                client_id=app.client_id,
                client_secret=app.client_secret,
                refresh_token=token.refresh_token,
            )
        except (WebexInvalidGrant, WebexUnauthorized) as exc:
            return _refresh_dead(token, exc, actor)
        except WebexError as exc:
            return _refresh_failed(token, exc, actor, now)
        before = _token_summary(token)
        _store_tokens(token, pair, now=now, refreshed=True)
        token.save()
        audit_record(
            action=Action.ORG_TOKENS_REFRESHED,
            summary=f"Refreshed the access token of {org.name}"
            + (" (new refresh token)" if pair.refresh_token_rotated else ""),
            actor=actor,
            **_org_target(org),
            changes=changes(before, _token_summary(token)),
        )
        return RefreshResult("refreshed", token.version)


def _refresh_dead(token: OrgToken, exc: WebexError, actor: Actor | None) -> RefreshResult:
    """invalid_grant or 401: retrying cannot help. Stop refreshing and ask for reauthorization."""
    org = token.org
    before = org_transition(org, Status.REAUTHORIZATION_REQUIRED)
    org.save()
    token.next_refresh_at = None
    token.claimed_until = None
    token.consecutive_failures += 1
    token.last_error = explain(exc)
    token.last_tracking_id = exc.tracking_id or ""
    token.save()
    audit_record(
        action=Action.ORG_REAUTHORIZATION_REQUIRED,
        summary=f"{org.name} must reauthorize: Webex refused the refresh token",
        actor=actor,
        **_org_target(org),
        outcome="failed",
        error=str(exc),
        tracking_id=exc.tracking_id or "",
        changes={"status": {"before": before, "after": org.status}},
    )
    return RefreshResult("reauthorization_required", token.version, token.last_error)


def _refresh_failed(
    token: OrgToken, exc: WebexError, actor: Actor | None, now: dt.datetime
) -> RefreshResult:
    """A transient failure: back off exponentially (1, 2, 4 ... 60 min), never past expiry."""
    org = token.org
    token.consecutive_failures += 1
    retry_at = rules.refresh_retry_at(
        failures=token.consecutive_failures,
        retry_after=exc.retry_after,
        access_expires_at=token.access_expires_at,
        now=now,
    )
    token.next_refresh_at = retry_at
    token.claimed_until = None
    token.last_error = explain(exc)
    token.last_tracking_id = exc.tracking_id or ""
    token.save()
    audit_record(
        action=Action.ORG_TOKENS_REFRESH_FAILED,
        summary=f"Refreshing the token of {org.name} failed; retry at {retry_at:%H:%M} UTC",
        actor=actor,
        **_org_target(org),
        outcome="failed",
        error=str(exc),
        tracking_id=exc.tracking_id or "",
    )
    return RefreshResult("failed", token.version, token.last_error)


def org_tokens_claim_due(
    *, limit: int = 100, lease: dt.timedelta = dt.timedelta(minutes=5)
) -> list[int]:
    """Claim up to `limit` orgs whose refresh is due: a conditional UPDATE per candidate, so
    two sweeps never take the same org. Returns the claimed org ids."""
    now = timezone.now()
    candidates = list(
        OrgToken.objects.filter(next_refresh_at__lte=now)
        .exclude(claimed_until__gt=now)
        .order_by("next_refresh_at")
        .values_list("pk", "org_id", "claimed_until")[:limit]
    )
    claimed = []
    for pk, org_id, claimed_until in candidates:
        updated = OrgToken.objects.filter(pk=pk, claimed_until=claimed_until).update(
            claimed_until=now + lease
        )
        if updated:
            claimed.append(org_id)
    return claimed


# ------------------------------------------------------------------------- reconciliation
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
            target_type="serviceapp",
            target_id=app.public_id,
            target_label=app.name,
            changes={
                "onboarded": {"before": None, "after": list(onboarded)},
                "paused": {"before": None, "after": list(paused)},
            },
        )
    return report


# ------------------------------------------------------------------------- offboarding
def org_offboard_start(
    *, org: CustomerOrg, confirm_name: str, mode: str, reason: str, actor: Actor | None = None
) -> CustomerOrg:
    """Operator confirmed: write the intent (mode, reason) and move to `offboarding`. The task
    `offboard_org` then does the work; it can be re-run until the org is `offboarded`."""
    errors = {}
    if confirm_name.strip() != org.name:
        errors["confirm_name"] = f"Type the org's name exactly: {org.name}"
    if mode not in CustomerOrg.OffboardMode.values:
        errors["mode"] = "Choose whether to disable or delete the org's data sources."
    if len(reason.strip()) < 5:
        errors["reason"] = "Give a reason (at least 5 characters): it is kept in the audit trail."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        org = CustomerOrg.objects.select_for_update().get(pk=org.pk)
        before = org_transition(org, Status.OFFBOARDING)
        org.offboard_mode = mode
        org.offboard_reason = reason.strip()
        org.offboard_progress = {
            "total": None,
            "done": 0,
            "failed": 0,
            "step": "data sources",
            "failures": [],
            "attempts": 0,
        }
        org.save()
        OrgToken.objects.filter(org=org).update(next_refresh_at=None, claimed_until=None)
        audit_record(
            action=Action.ORG_OFFBOARDING_STARTED,
            summary=f"Offboarding {org.name}: data sources will be {mode}d",
            actor=actor,
            **_org_target(org),
            reason=org.offboard_reason,
            changes={
                "status": {"before": before, "after": org.status},
                "offboard_mode": {"before": None, "after": mode},
            },
        )
    return org


def org_offboard_progress_save(org: CustomerOrg, **progress) -> None:
    """Record how far an offboarding got (total, done, failed, step, failures, attempts, ...)."""
    org.offboard_progress = {**org.offboard_progress, **progress}
    CustomerOrg.objects.filter(pk=org.pk).update(offboard_progress=org.offboard_progress)


def org_offboard_attempt_started(*, org: CustomerOrg, now: dt.datetime | None = None) -> None:
    """An attempt begins: if it never reports back (its worker died), the offboarding sweep
    takes it up again after OFFBOARD_ATTEMPT_MINUTES."""
    now = now or timezone.now()
    attempts = int(org.offboard_progress.get("attempts") or 0) + 1
    org_offboard_progress_save(
        org,
        attempts=attempts,
        last_attempt_at=now.isoformat(),
        next_attempt_at=(now + rules.policy().offboard_attempt).isoformat(),
    )


def org_offboard_attempt_failed(
    *,
    org: CustomerOrg,
    failures: list[dict],
    detail: str,
    actor: Actor | None = None,
    now: dt.datetime | None = None,
) -> dt.datetime:
    """What is left after an attempt, with Webex's reasons, and when the next one runs (backing
    off 1, 2, 4 ... 60 minutes). Returns that time."""
    now = now or timezone.now()
    attempts = int(org.offboard_progress.get("attempts") or 1)
    retry_at = rules.offboard_retry_at(attempts=attempts, now=now)
    with transaction.atomic():
        org_offboard_progress_save(
            org,
            failed=len(failures),
            failures=failures[:100],
            error=detail[:500],
            next_attempt_at=retry_at.isoformat(),
        )
        audit_record_failure(
            action=Action.ORG_OFFBOARDED,
            summary=f"Offboarding {org.name}: attempt {attempts} left "
            f"{len(failures) or 'the listing'} undone; next attempt {retry_at:%H:%M} UTC",
            actor=actor,
            **_org_target(org),
            error=detail[:500],
            tracking_id=next((f["tracking_id"] for f in failures if f.get("tracking_id")), ""),
            reason=org.offboard_reason,
        )
    return retry_at


@transaction.atomic
def org_tokens_destroy(*, org: CustomerOrg, actor: Actor | None = None) -> None:
    """Offboarding: the org's tokens are wiped (expiry times stay for the record)."""
    token = OrgToken.objects.select_for_update().filter(org=org).first()
    if token is None or not token.has_tokens:
        return
    token.access_token = ""
    token.refresh_token = ""
    token.next_refresh_at = None
    token.destroyed_at = timezone.now()
    token.version += 1
    token.save()
    audit_record(
        action=Action.ORG_TOKENS_DESTROYED,
        summary=f"Destroyed the tokens of {org.name}",
        actor=actor,
        **_org_target(org),
        reason=org.offboard_reason,
    )


def org_offboard_finish(*, org: CustomerOrg, actor: Actor | None = None) -> str:
    """The last step of an offboarding: the org is `offboarded`."""
    with transaction.atomic():
        org = CustomerOrg.objects.select_for_update().get(pk=org.pk)
        if org.status == Status.OFFBOARDED:
            return "already offboarded"
        before = org_transition(org, Status.OFFBOARDED)
        progress = {k: v for k, v in org.offboard_progress.items() if k != "next_attempt_at"}
        org.offboard_progress = {**progress, "step": "done", "failed": 0, "failures": []}
        org.save()
        audit_record(
            action=Action.ORG_OFFBOARDED,
            summary=f"Offboarded {org.name}",
            actor=actor,
            **_org_target(org),
            reason=org.offboard_reason,
            changes={"status": {"before": before, "after": org.status}},
        )
    return "offboarded"
