"""Every authorization event in every org state, delivered through the webhook view (signed
over the raw body) with the task run eagerly against the emulator: each has its outcome, none
raises, and delivering it again changes nothing. The table is in `tenants.services`."""

import logging
import uuid

import pytest

from audit.models import AuditEvent
from operations.tasks import offboard_org
from tenants import services
from tenants.models import CustomerOrg, OrgToken, WebhookEvent
from tenants.tasks import handle_authorization_webhook
from webex.client import WebexClient
from webex.errors import WebexUnauthorized

from .conftest import SYSTEM
from .test_webhook import envelope, post, sign

Status = CustomerOrg.Status
NEW_DOMAIN = "reauth.example.org"  # added to the app at Webex before each `authorized` event
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


@pytest.fixture
def eager(settings):
    """Tasks run in-process when the view's transaction commits, and their errors propagate,
    so a task that raises fails the test."""
    from byods_portal.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = True
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = False, False


class World:
    """The emulator's world and the portal's app; `at_webex` tracks whether Webex currently
    holds the org's authorization, so each event is delivered in a consistent world."""

    def __init__(self, client, app, webex_world, emulator, capture):
        self.client, self.app, self.webex, self.emulator = client, app, webex_world, emulator
        self.capture = capture
        self.at_webex = True
        self.org_uuid = uuid.UUID(webex_world.org_id)

    def deliver(self, event: str, event_id: str | None = None):
        raw = envelope(self.app, self.webex.org_id, event=event, event_id=event_id)
        with self.capture(execute=True):
            response = post(self.client, raw, sign(self.app.webhook_secret, raw))
        return response

    def deauthorize_at_webex(self):
        if self.at_webex:
            self.emulator.deauthorize(self.webex.application_id, self.webex.org_id)
            self.at_webex = False

    def authorize_at_webex(self):
        self.emulator.authorize(self.webex.application_id, self.webex.org_id)
        self.at_webex = True

    def onboard(self) -> CustomerOrg:
        return services.org_onboard(
            app=self.app, webex_org_id=self.webex.org_id, name="Globex", region="us", actor=SYSTEM
        )


# ------------------------------------------------------------------ the states, as users reach them
def to_none(w: World):
    """Nobody has onboarded the org yet."""


def to_pending(w: World):
    services.org_onboarding_start(
        app=w.app, webex_org_id=w.webex.org_id, name="Globex", region="us", actor=SYSTEM
    )


def to_authorized(w: World):
    """The authorized webhook arrived while Webex would not issue tokens (a 503)."""
    w.emulator.set_faults(
        [{"method": "POST", "pathRegex": "/token$", "kind": "status", "status": 503}]
    )
    assert w.deliver("authorized").status_code == 202
    w.emulator.clear_faults()


def to_active(w: World):
    w.onboard()


def to_reauthorization_required(w: World):
    """The admin removed the app (its webhook was missed), so the next refresh is refused."""
    org = w.onboard()
    w.deauthorize_at_webex()
    result = services.org_tokens_refresh(org_id=org.pk, force=True, actor=SYSTEM)
    assert result.outcome == "reauthorization_required"


def to_deauthorized(w: World):
    w.onboard()
    w.deauthorize_at_webex()
    assert w.deliver("deauthorized").status_code == 202


def to_offboarding(w: World):
    org = w.onboard()
    services.org_offboard_start(
        org=org, confirm_name="Globex", mode="disable", reason="Contract ended", actor=SYSTEM
    )


def to_offboarded(w: World):
    to_offboarding(w)
    org = CustomerOrg.objects.get()
    assert offboard_org(org.pk) == "offboarded"  # the task the offboarding page queues


SETUPS = {
    "none": to_none,
    "pending": to_pending,
    "authorized": to_authorized,
    "active": to_active,
    "reauthorization_required": to_reauthorization_required,
    "deauthorized": to_deauthorized,
    "offboarding": to_offboarding,
    "offboarded": to_offboarded,
}

# (state, event) -> (status afterwards, or None for "no org"; the action the event records)
TABLE = {
    ("none", "authorized"): (Status.ACTIVE, "org.tokens_fetched"),
    ("pending", "authorized"): (Status.ACTIVE, "org.tokens_fetched"),
    ("authorized", "authorized"): (Status.ACTIVE, "org.tokens_fetched"),
    ("active", "authorized"): (Status.ACTIVE, "org.authorized"),  # new snapshot, same tokens
    ("reauthorization_required", "authorized"): (Status.ACTIVE, "org.tokens_fetched"),
    ("deauthorized", "authorized"): (Status.ACTIVE, "org.tokens_fetched"),
    ("offboarding", "authorized"): (Status.OFFBOARDING, "webhook.received"),
    ("offboarded", "authorized"): (Status.ACTIVE, "org.tokens_fetched"),
    ("none", "deauthorized"): (None, "webhook.received"),
    ("pending", "deauthorized"): (Status.DEAUTHORIZED, "org.deauthorized"),
    ("authorized", "deauthorized"): (Status.DEAUTHORIZED, "org.deauthorized"),
    ("active", "deauthorized"): (Status.DEAUTHORIZED, "org.deauthorized"),
    ("reauthorization_required", "deauthorized"): (Status.DEAUTHORIZED, "org.deauthorized"),
    ("deauthorized", "deauthorized"): (Status.DEAUTHORIZED, "webhook.received"),
    ("offboarding", "deauthorized"): (Status.OFFBOARDING, "webhook.received"),
    ("offboarded", "deauthorized"): (Status.OFFBOARDED, "webhook.received"),
}


def webex_accepts(webex_world, token: OrgToken) -> bool:
    try:
        WebexClient(api_base=webex_world.api_base).list_datasources(access_token=token.access_token)
    except WebexUnauthorized:
        return False
    return True


def snapshot_of_state() -> dict:
    """Everything an event could change: the org row and its token row."""
    org = CustomerOrg.objects.values().first()
    token = OrgToken.objects.values().first()
    return {"org": org, "token": token}


@pytest.mark.django_db
@pytest.mark.parametrize(("state", "event"), sorted(TABLE))
def test_every_event_in_every_state(
    client,
    portal_app,
    webex_world,
    emulator,
    eager,
    django_capture_on_commit_callbacks,
    state,
    event,
):
    w = World(client, portal_app, webex_world, emulator, django_capture_on_commit_callbacks)
    SETUPS[state](w)
    org = CustomerOrg.objects.first()
    assert (org.status if org else "none") == state, "the set-up did not reach the state"
    token = OrgToken.objects.filter(org=org).first() if org else None
    access_before = token.access_token if token else None
    # The world Webex would be in when it sends this event.
    if event == "authorized":
        emulator.update_service_app(
            webex_world.application_id, valid_domains=["byods.example.com", NEW_DOMAIN]
        )
        w.authorize_at_webex()
    else:
        w.deauthorize_at_webex()
    last_audit = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()

    response = w.deliver(event)

    assert response.status_code == 202
    status, action = TABLE[(state, event)]
    org = CustomerOrg.objects.filter(webex_org_id=webex_world.org_id).first()
    assert (org.status if org else None) == status
    recorded = AuditEvent.objects.filter(id__gt=last_audit or 0, outcome="ok")
    assert recorded.filter(action=action, actor=f"system:webhook:serviceApp.{event}").exists()
    if status == Status.ACTIVE:
        # Ready for data sources: Webex's new snapshot, and tokens Webex accepts.
        assert NEW_DOMAIN in org.authorized_domains
        token = OrgToken.objects.get(org=org)
        assert token.has_tokens and token.next_refresh_at is not None
        assert webex_accepts(webex_world, token)
        if state == "active":  # a re-authorization keeps the tokens it has
            assert token.access_token == access_before
    if status == Status.DEAUTHORIZED:
        # refresh paused (pending and authorized orgs have no tokens to refresh)
        assert not OrgToken.objects.filter(org=org, next_refresh_at__isnull=False).exists()
    if action == "webhook.received":
        assert recorded.filter(action="webhook.received").count() == 1
        assert not recorded.exclude(action="webhook.received").exists()

    # Idempotent: the same event again (a new delivery id, so past the replay guard) changes
    # nothing here and writes nothing at Webex; the very same delivery is a duplicate.
    before = snapshot_of_state()
    emulator.clear_requests_log()
    assert w.deliver(event).status_code == 202
    assert snapshot_of_state() == before
    assert [r for r in emulator.requests_log() if r["method"] in WRITES] == []
    raw = envelope(portal_app, webex_world.org_id, event=event, event_id="evt-fixed")
    for expected in (202, 200):
        with django_capture_on_commit_callbacks(execute=True):
            assert post(client, raw, sign(portal_app.webhook_secret, raw)).status_code == expected
    assert snapshot_of_state() == before


@pytest.mark.django_db
def test_a_missed_deauthorization_gets_new_tokens_on_reauthorization(
    client, portal_app, webex_world, emulator, eager, django_capture_on_commit_callbacks
):
    """Active, but the admin removed and re-added the app unseen: Webex revoked the stored
    tokens, so the re-authorization fetches new ones and the org stays active."""
    w = World(client, portal_app, webex_world, emulator, django_capture_on_commit_callbacks)
    org = w.onboard()
    old = OrgToken.objects.get(org=org).access_token
    w.deauthorize_at_webex()
    w.authorize_at_webex()
    assert not webex_accepts(webex_world, OrgToken.objects.get(org=org))
    assert w.deliver("authorized").status_code == 202
    org.refresh_from_db()
    token = OrgToken.objects.get(org=org)
    assert org.status == Status.ACTIVE and token.access_token != old
    assert webex_accepts(webex_world, token)
    event = AuditEvent.objects.filter(action="org.tokens_fetched").latest("id")
    assert event.changes["status"] == {"before": "active", "after": "active"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("resource", "event"),
    [("serviceApp", "updated"), ("messages", "created"), ("dataSources", "authorized")],
)
def test_an_unknown_event_is_a_logged_no_op(
    client,
    portal_app,
    webex_world,
    emulator,
    eager,
    django_capture_on_commit_callbacks,
    caplog,
    resource,
    event,
):
    org = services.org_onboard(
        app=portal_app, webex_org_id=webex_world.org_id, name="Globex", region="us", actor=SYSTEM
    )
    before, audits = snapshot_of_state(), AuditEvent.objects.count()
    body = envelope(portal_app, webex_world.org_id).decode()
    raw = (
        body.replace('"serviceApp"', f'"{resource}"')
        .replace('"event": "authorized"', f'"event": "{event}"')
        .encode()
    )
    emulator.clear_requests_log()
    caplog.set_level(logging.INFO)
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True) as queued:
            response = post(client, raw, sign(portal_app.webhook_secret, raw))
        assert response.status_code == 400 and not queued
    assert f"{resource!r}.{event!r}" in caplog.text and "ignored" in caplog.text
    assert snapshot_of_state() == before and AuditEvent.objects.count() == audits
    assert not WebhookEvent.objects.exists() and emulator.requests_log() == []
    # Should one reach the task anyway (queued by another version), it is ignored there too.
    assert handle_authorization_webhook(portal_app.pk, "updated", str(org.webex_org_id)) == (
        "ignored"
    )
    assert snapshot_of_state() == before


@pytest.mark.django_db
def test_the_task_ignores_an_app_or_org_id_it_cannot_use(portal_app, webex_world, caplog):
    assert handle_authorization_webhook(0, "authorized", webex_world.org_id) == "ignored"
    assert handle_authorization_webhook(portal_app.pk, "deauthorized", "not-a-uuid") == "ignored"
    assert caplog.text.count("authorization webhook ignored") == 2
    assert not CustomerOrg.objects.exists()
