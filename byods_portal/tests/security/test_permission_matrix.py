"""The permission matrix: every routed URL x every persona x GET/POST, from one RULES table.

The list of routes comes from the URL configuration, so a new page (or API endpoint) without a
row in RULES fails `test_every_route_has_a_rule`, and a row for a route that no longer exists
fails too. Each row says which personas may GET and which may POST:

* allowed: GET answers 200 with the page (real objects fill the UUIDs, so never a 404), POST is
  neither refused nor an error (a redirect or the form again);
* signed in but not allowed: 403, and nothing is written to the audit trail;
* method not offered (`None`): 405;
* anonymous: pages redirect to the sign-in page; API endpoints (kind "api") answer 401/403
  with a JSON body instead of a redirect.

API rows: add `"api:...": Rule(get=READ, post=EDIT, kind="api")` for each `/api/v1/` route.
"""

import uuid
from dataclasses import dataclass

import pytest

from .conftest import portal_routes

PERSONAS = ("operator", "onboarding", "auditor", "norole", "anonymous")
SIGNED_IN = frozenset({"operator", "onboarding", "auditor", "norole"})
OP = frozenset({"operator"})
EDIT = frozenset({"operator", "onboarding"})  # onboard orgs, register/edit data sources
READ = frozenset({"operator", "onboarding", "auditor"})
AUDIT = frozenset({"operator", "auditor"})
EVERYONE = frozenset(PERSONAS)


@dataclass(frozen=True)
class Rule:
    get: frozenset | None = None  # who may GET; None: GET is not offered (405)
    post: frozenset | None = None  # who may POST; None: POST is not offered (405)
    kind: str = "page"  # page | api | public (no login) | signed (HMAC, no login, no CSRF)


RULES: dict[str, Rule] = {
    # foundation
    "dashboard": Rule(get=READ),
    "healthz": Rule(get=EVERYONE, kind="public"),
    "login": Rule(get=EVERYONE, post=EVERYONE, kind="public"),
    "logout": Rule(post=SIGNED_IN),  # ends one's own session; no role needed
    "webex_webhook": Rule(post=frozenset(), kind="signed"),  # nobody without the signature
    "accounts:staff_list": Rule(get=OP),
    # audit trail
    "audit:log": Rule(get=AUDIT),
    "audit:export": Rule(get=AUDIT),
    "audit:event": Rule(get=AUDIT),
    "audit:org_timeline": Rule(get=AUDIT),
    "audit:datasource_timeline": Rule(get=AUDIT),
    # orgs and Service Apps
    "tenants:org_list": Rule(get=READ),
    "tenants:org_onboard": Rule(get=EDIT, post=EDIT),
    "tenants:org_detail": Rule(get=READ),
    "tenants:org_tokens_paste": Rule(get=EDIT, post=EDIT),
    "tenants:org_refresh": Rule(post=EDIT),
    "tenants:org_offboard": Rule(get=OP, post=OP),
    "tenants:org_offboard_resume": Rule(post=OP),
    "tenants:org_offboard_progress": Rule(get=READ),
    "tenants:serviceapp_list": Rule(get=READ),
    "tenants:serviceapp_create": Rule(get=OP, post=OP),
    "tenants:serviceapp_detail": Rule(get=READ),
    "tenants:serviceapp_register_webhooks": Rule(post=OP),
    "tenants:serviceapp_reconcile": Rule(post=EDIT),
    # data sources
    "datasources:list": Rule(get=READ),
    "datasources:rotate_selected": Rule(post=EDIT),
    "datasources:detail": Rule(get=READ),
    "datasources:edit": Rule(get=EDIT, post=EDIT),
    "datasources:disable": Rule(get=OP, post=OP),
    "datasources:enable": Rule(post=OP),
    "datasources:delete": Rule(get=OP, post=OP),
    "datasources:maintenance": Rule(get=OP, post=OP),
    "datasources:rotate": Rule(post=EDIT),
    "datasources:register": Rule(get=EDIT, post=EDIT),
    "datasources:drift_list": Rule(get=READ),
    "datasources:drift_check": Rule(post=EDIT),
    "datasources:drift_resolve": Rule(post=OP),
}

ROUTES = dict(portal_routes())
CASES = [
    (name, persona, method)
    for name in sorted(ROUTES)
    for persona in PERSONAS
    for method in ("GET", "POST")
]


def test_every_route_has_a_rule():
    missing = sorted(set(ROUTES) - set(RULES))
    stale = sorted(set(RULES) - set(ROUTES))
    assert not missing, f"routes without a row in RULES (say who may GET/POST): {missing}"
    assert not stale, f"RULES rows for routes that no longer exist: {stale}"


def random_path(route: str) -> str:
    """A path with random UUIDs: enough for refusals, which must come before any lookup."""
    import re

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: str(uuid.uuid4()), route)


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "persona", "method"), CASES)
def test_permission_matrix(request, client_for, name, persona, method):
    from audit.models import AuditEvent

    rule = RULES.get(name)
    if rule is None:
        pytest.fail(f"{name} has no row in RULES")
    allowed = rule.get if method == "GET" else rule.post
    route = ROUTES[name]
    needs_world = allowed and persona in allowed and "<" in route
    path = request.getfixturevalue("world").path(name, route) if needs_world else random_path(route)
    client = client_for(persona)
    before = AuditEvent.objects.count()
    response = client.get(path) if method == "GET" else client.post(path, {})
    status = response.status_code
    where = f"{method} {path} as {persona}: {status}"

    if rule.kind == "signed":
        assert status in (403, 405) if method == "POST" else status == 405, where
        return
    if persona == "anonymous" and rule.kind == "page":
        assert status == 302 and response.url.startswith("/login/"), where
        assert AuditEvent.objects.count() == before
        return
    if persona == "anonymous" and rule.kind == "api":
        assert status in (401, 403), where
        assert response["Content-Type"].startswith("application/json"), where
        return
    if allowed is None:
        assert status == 405, where
        return
    if persona in allowed:
        if method == "GET" and rule.kind != "public":
            assert status == 200, where
        else:
            assert status < 500 and status not in (403, 405), where
            assert not (status == 302 and response.url.startswith("/login/?next=")), where
        return
    assert status == 403, where
    assert AuditEvent.objects.count() == before, f"{where} wrote to the audit trail"


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_the_admin_is_for_operators_only(client_for, persona):
    response = client_for(persona).get("/admin/")
    if persona == "operator":
        assert response.status_code == 200
    else:
        assert response.status_code == 302 and "/admin/login/" in response.url
