"""The Service App's authorization webhook: what an org's admin authorizing or removing the app
does in each org state (the table is in `org_authorized`), and fetching an authorized org's
tokens."""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from django.db import transaction
from django.utils import timezone

from audit.context import Actor
from audit.redaction import changes
from audit.services import audit_record
from audit.vocabulary import Action
from core.webex_adapter import webex_client_for
from webex.errors import WebexError, WebexForbidden, WebexUnauthorized

from ..models import CustomerOrg, OrgToken, ServiceApp
from ._common import _org_target
from .activation import _activate, _apply_snapshot, _fetch_tokens_recorded, _snapshot
from .lifecycle import org_transition

logger = logging.getLogger(__name__)
Status = CustomerOrg.Status


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
    activated = _activate(
        org,
        pair=pair,
        snapshot=None,  # taken when the org became authorized
        app=app,
        # deauthorized or offboarded meanwhile: do not revive by accident (None, not raised)
        expect=(Status.AUTHORIZED, Status.REAUTHORIZATION_REQUIRED, Status.ACTIVE),
        action=Action.ORG_TOKENS_FETCHED,
        summary=lambda org, before: (
            f"Fetched tokens for {org.name}"
            + (": Webex no longer accepted the stored ones" if before == Status.ACTIVE else "")
        ),
        actor=actor,
        now=now,
    )
    return activated is not None


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
