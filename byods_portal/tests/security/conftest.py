"""A small but complete world for the security suite: a Service App, an active org with
tokens, a data source registered at the emulator, an open drift finding and audit events,
all over real HTTP; an org half-way through the onboarding wizard, an API key, an alert
channel with a webhook secret, an open incident and a queued bulk rotation.
`World.path(name, route)` turns any routed URL into a path that reaches a real object, so
allowed personas get the page itself, never a 404."""

import re
import uuid
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from audit.context import Actor

SYSTEM = Actor.system("security-test")
SCHEMA = "5397013b-7920-4ffc-807c-e8a3e0a18f43"
CHANNEL_SECRET = "whsec-security-suite-5e1f0c3a9b7d"


def iter_patterns(resolver=None, prefix="", namespace=""):
    """(name, route, pattern) for every routed URL; names are namespaced (`datasources:detail`)."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from iter_patterns(entry, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            yield f"{namespace}{entry.name or ''}", prefix + str(entry.pattern), entry


def iter_routes():
    """(name, route) for every routed URL."""
    for name, route, _ in iter_patterns():
        yield name, route


def portal_routes() -> list[tuple[str, str]]:
    """Every route except the Django admin (regex routes; it has its own checks)."""
    return [
        (name, route)
        for name, route in iter_routes()
        if not name.startswith("admin:") and not route.startswith("^") and "(?P" not in route
    ]


@dataclass
class World:
    app: object
    org: object
    datasource: object
    finding: object | None
    event: object
    jws: str
    pending_org: object  # recorded by the wizard's step 2, tokens not fetched yet
    api_key: object
    api_key_plaintext: str  # shown once at creation; must appear nowhere else
    channel: object
    alert: object
    operation: object
    staff: object  # a staff account's profile (its public id fills the staff routes)
    invite_token: str  # an open invitation's one-time token

    # Routes whose UUID is not the route's own kind of object.
    OBJECTS = {
        "onboarding:wizard_org": "app",
        "onboarding:wizard_tokens": "pending_org",
        "accounts:apikey_revoke": "api_key",
        "alerts:acknowledge": "alert",
        "alerts:detail": "alert",
        "alerts:snooze": "alert",
        "alerts:silence": "alert",
        "alerts:wake": "alert",
        "alerts:resolve": "alert",
        "alerts:channel_edit": "channel",
        "alerts:channel_delete": "channel",
        "alerts:channel_test": "channel",
        "api:alertchannel-test": "channel",
        "api:serviceapp-detail": "app",
        "api:auditevent-detail": "event",
    }
    PREFIXES = {
        "onboarding:wizard_": "org",
        "operations:": "operation",
        "api:org-": "org",
        "api:datasource-": "datasource",
        "api:bulkoperation-": "operation",
        "api:alert-": "alert",
        "api:staff-": "staff",
        "accounts:staff_": "staff",
    }

    def object_for(self, name: str, param: str):
        """The object whose public id fills `param` in route `name`."""
        attr = self.OBJECTS.get(name) or next(
            (a for prefix, a in self.PREFIXES.items() if name.startswith(prefix)), None
        )
        if attr:
            return getattr(self, attr).public_id
        if param == "org_public_id" or param == "org_id":
            return self.org.public_id
        if param == "datasource_id":
            return self.datasource.public_id
        if name.startswith("tenants:serviceapp"):
            return self.app.public_id
        if name.startswith(("tenants:org", "offboarding:org", "onboarding:wizard")):
            return self.org.public_id
        if name == "datasources:drift_resolve":
            return self.finding.public_id
        if name.startswith("datasources:"):
            return self.datasource.public_id
        if name == "audit:event":
            return self.event.public_id
        if param == "token":
            return self.invite_token
        raise LookupError(f"security conftest: no object for <{param}> in {name}; add one")

    def path(self, name: str, route: str) -> str:
        def fill(match):
            return str(self.object_for(name, match[2]))

        return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", fill, route)


def build_world(webex_world, settings, *, drift: bool = True) -> World:
    from audit.models import AuditEvent
    from datasources.services import datasource_register, datasources_reconcile_org
    from tenants import services as tenant_services
    from webex.client import WebexClient

    settings.WEBEX_REGIONS = {
        region: {"api": webex_world.api_base, "idbroker": webex_world.idbroker_base}
        for region in ("us", "eu", "integration")
    }
    app = tenant_services.serviceapp_create(
        name="Acme Analytics",
        client_id=webex_world.client_id,
        client_secret=webex_world.client_secret,
        valid_domains=["byods.example.com"],
        schema_ids=[SCHEMA],
        region="us",
        integration_token=webex_world.integration_token,
        actor=SYSTEM,
    )
    org = tenant_services.org_onboard(
        app=app, webex_org_id=webex_world.org_id, name="Globex Retail", region="us", actor=SYSTEM
    )

    def register(subject):
        return datasource_register(
            org=org,
            schema_id=SCHEMA,
            url="https://rx.byods.example.com/feed",
            audience="byods-rx",
            subject=subject,
            token_lifetime_minutes=60,
            actor=SYSTEM,
        )

    ds = register("globex-voice")
    finding = None
    if drift:
        gone = register("globex-gone")
        from tenants.models import OrgToken

        WebexClient(api_base=webex_world.api_base).delete_datasource(
            access_token=OrgToken.objects.get(org=org).access_token, datasource_id=gone.webex_id
        )
        datasources_reconcile_org(org=org, actor=SYSTEM)
        from datasources.models import DriftFinding

        finding = DriftFinding.objects.filter(resolved_at__isnull=True).first() or (
            DriftFinding.objects.first()
        )
    state = webex_world.control.state()
    jws = next(d["jwsToken"] for d in state["dataSources"] if d["id"] == ds.webex_id)
    org.refresh_from_db()
    pending = tenant_services.org_onboarding_start(
        app=app, webex_org_id=str(uuid.uuid4()), name="Initech Pending", region="us", actor=SYSTEM
    )
    extras = build_extras(org=org, datasource=ds)
    event = AuditEvent.objects.order_by("-id").first()
    return World(app, org, ds, finding, event, jws, pending, **extras)


def build_extras(*, org, datasource) -> dict:
    """The objects of the merged apps: API keys, alerts and their channels, bulk operations."""
    from accounts.roles import Role
    from accounts.services import apikey_create
    from alerts.models import Kind
    from alerts.services import alert_incident_raise, alertchannel_create
    from operations.selectors import Selection
    from operations.services import bulk_operation_start

    api_key, plaintext = apikey_create(name="Nightly export", role=Role.AUDITOR, actor=SYSTEM)
    channel = alertchannel_create(
        team="Customer success",
        email_recipients=["cs@example.com"],
        webhook_url="http://127.0.0.1:9/hook",  # loopback: nothing is delivered unless asked
        webhook_secret=CHANNEL_SECRET,
        kinds=list(Kind.values),
        actor=SYSTEM,
    )
    alert = alert_incident_raise(
        org=org, summary="Receiver answers 502 since 09:00", user=None, actor=SYSTEM
    )
    # A rotation (EDIT_DATASOURCES), left queued: nothing runs it, so the world stays put.
    operation = bulk_operation_start(
        kind="rotate",
        selection=Selection(target_type="datasource", public_ids=(datasource.public_id,)),
        actor=SYSTEM,
    )
    from accounts.services import staff_invite, staff_user_create

    person, _ = staff_user_create(email="colleague@example.com", role=Role.ONBOARDING, actor=SYSTEM)
    _, invite_token = staff_invite(
        email="invitee@example.com", role=Role.AUDITOR, reason="joins the audit team", actor=SYSTEM
    )
    return {
        "staff": person.staff_profile,
        "invite_token": invite_token,
        "api_key": api_key,
        "api_key_plaintext": plaintext,
        "channel": channel,
        "alert": alert,
        "operation": operation,
    }


@pytest.fixture
def world(db, settings, webex_world) -> World:
    return build_world(webex_world, settings)
