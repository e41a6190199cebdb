"""A small but complete world for the security suite: a Service App, an active org with
tokens, a data source registered at the emulator, an open drift finding and audit events,
all over real HTTP. `url_for(name, route)` turns any routed URL into a path that reaches a
real object, so allowed personas get the page itself, never a 404."""

import re
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from audit.context import Actor

SYSTEM = Actor.system("security-test")
SCHEMA = "5397013b-7920-4ffc-807c-e8a3e0a18f43"


def iter_routes(resolver=None, prefix="", namespace=""):
    """(name, route) for every routed URL; names are namespaced (`datasources:detail`)."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from iter_routes(entry, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            yield f"{namespace}{entry.name or ''}", prefix + str(entry.pattern)


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

    def object_for(self, name: str, param: str):
        """The object whose public id fills `param` in route `name`."""
        if param == "org_public_id" or param == "org_id":
            return self.org.public_id
        if param == "datasource_id":
            return self.datasource.public_id
        if name.startswith("tenants:serviceapp"):
            return self.app.public_id
        if name.startswith("tenants:org"):
            return self.org.public_id
        if name == "datasources:drift_resolve":
            return self.finding.public_id
        if name.startswith("datasources:"):
            return self.datasource.public_id
        if name == "audit:event":
            return self.event.public_id
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
    return World(app, org, ds, finding, AuditEvent.objects.order_by("-id").first(), jws)


@pytest.fixture
def world(db, settings, webex_world) -> World:
    return build_world(webex_world, settings)
