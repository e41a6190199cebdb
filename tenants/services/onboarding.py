"""Staff bring an org in: the onboarding page, the wizard's two steps, and a pasted token pair
(sandbox). Calls to Webex happen outside transactions."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import NoReturn

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.context import Actor
from audit.redaction import changes
from audit.services import audit_record, audit_record_failure
from audit.vocabulary import Action
from core.webex_adapter import explain, tracking_note, webex_client_for
from webex import ids
from webex.errors import WebexError, WebexForbidden, WebexInvalidGrant, WebexUnauthorized
from webex.types import TokenPair

from ..models import CustomerOrg, ServiceApp
from ._common import _org_target
from .activation import _activate, _authorization_at_webex, _fetch_tokens_recorded, _snapshot
from .lifecycle import TRANSITIONS, IllegalTransition, WebexRefused

Status = CustomerOrg.Status


def parse_org_id(value: str) -> uuid.UUID:
    try:
        return ids.org_uuid(value)
    except ValueError:
        raise ValidationError(
            {"webex_org_id": "Enter the org's Webex id: a UUID or its base64 ciscospark:// form."}
        ) from None


def _onboarded(org: CustomerOrg, before: str | None) -> str:
    """The audit summary of an org that has just become active with its first tokens (the
    onboarding page and the wizard's token step)."""
    return f"Onboarded {org.name} and fetched its tokens"


# Once the org is locked, `org_onboard` goes on only from a state in which the table lets the
# admin's authorization start: an org that a webhook made authorized or active meanwhile is
# refused, not onboarded twice.
_ONBOARDABLE = frozenset(state for state, to in TRANSITIONS.items() if Status.AUTHORIZED in to)


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
    return _activate(
        existing or CustomerOrg(service_app=app, webex_org_id=org_uuid, status=Status.PENDING),
        pair=pair,
        snapshot=snapshot,
        app=app,
        details={"name": name.strip(), "region": region, "owner": owner},
        expect=_ONBOARDABLE,
        moved_on=lambda org: IllegalTransition(
            f"{name.strip()}: {org.status} -> {Status.AUTHORIZED} is not allowed"
        ),
        action=Action.ORG_ONBOARDED,
        summary=_onboarded,
        actor=actor,
        now=now,
    )


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
    return _activate(
        org,
        pair=pair,
        snapshot=snapshot,
        app=app,
        expect=WIZARD_RESUMABLE,
        # changed meanwhile (webhook, offboarding)
        moved_on=lambda org: IllegalTransition(
            f"{org.name} became {org.get_status_display().lower()}."
        ),
        action=Action.ORG_ONBOARDED,
        summary=_onboarded,
        actor=actor,
        now=now,
    )


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
    return tracking_note(exc)


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
    Longer than most on purpose: a security check whose proofs must run in this order and
    refuse the same way, so it is reviewed top to bottom in one place.
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
    pasting a pair already known to be expired. Most of its length is those input checks,
    gathered so that every problem is shown beside its field at once.
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
    return _activate(
        org,
        pair=pair,
        snapshot=snapshot,
        app=org.service_app,
        expect=frozenset(Status.values) - {Status.OFFBOARDING},
        # offboarding started meanwhile
        moved_on=lambda org: IllegalTransition(
            f"{org.name} is being offboarded: tokens are not taken now."
        ),
        action=Action.ORG_TOKENS_FETCHED,
        summary=lambda org, before: (
            f"Stored a hand-pasted token pair for {org.name}, verified with Webex"
        ),
        actor=actor,
        now=now,
    )
