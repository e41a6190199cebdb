"""The permission matrix: every routed URL x every persona x method, from one RULES table.

The list of routes comes from the URL configuration, so a new page (or API endpoint) without a
row in RULES fails `test_every_route_has_a_rule`, and a row for a route that no longer exists
fails too. Each row says which personas may GET and which may POST (and, for API rows, PUT /
PATCH / DELETE when the endpoint offers them):

* allowed: GET answers 200 with the page (real objects fill the UUIDs, so never a 404; a row
  with `redirects=True` answers a redirect instead, as the wizard's resume/finish steps do),
  a write is neither refused nor an error (a redirect, the form again, or a 400 for an empty
  API body);
* signed in but not allowed: 403 (API: in the API's JSON error format), and nothing is written
  to the audit trail;
* method not offered (`None`): 405;
* anonymous: pages redirect to the sign-in page; API endpoints (kind "api") answer 401 with
  `WWW-Authenticate: Bearer` and (when JSON) the `not_authenticated` error code.

Two personas are API keys rather than people: `operator_key` (a key of the operator role) and
`verifier_key` (the verifier role, which may only verify JWS). On API rows a key persona counts
as its role; on pages a key is no session, so it is sent to the sign-in page like anonymous.

API rows: add `"api:<basename>-<action>": Rule(get=READ, post=EDIT, kind="api")` for each
`/api/v1/` route, in the API block below; the sets name roles, plus `"verifier"` where the
verifier role may call the endpoint. The objects that fill `<uuid:id>` come from
`World.OBJECTS` / `World.PREFIXES` in conftest.py (`"api:bulkoperation-": "operation"`,
`"api:alert-": "alert"` route the two groups still to come to objects the world already has).
"""

import re
import uuid
from dataclasses import dataclass

import pytest

from .conftest import iter_patterns, portal_routes

PERSONAS = (
    "operator",
    "onboarding",
    "auditor",
    "norole",
    "anonymous",
    "operator_key",
    "verifier_key",
)
KEY_ROLES = {"operator_key": "operator", "verifier_key": "verifier"}  # API-key personas
SIGNED_IN = frozenset({"operator", "onboarding", "auditor", "norole"})
OP = frozenset({"operator"})
EDIT = frozenset({"operator", "onboarding"})  # onboard orgs, register/edit data sources
READ = frozenset({"operator", "onboarding", "auditor"})
AUDIT = frozenset({"operator", "auditor"})
EVERYONE = frozenset(PERSONAS)
WRITES = ("POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Rule:
    get: frozenset | None = None  # who may GET; None: GET is not offered (405)
    post: frozenset | None = None  # who may POST; None: POST is not offered (405)
    # page | api | public (no login) | signed (HMAC, no login, no CSRF) | token (a bearer
    # token from the settings, no role: 404 while unset, as here; test_metrics.py has the rest)
    # | sso (single sign-on, no login, GET only: 404 while PORTAL_OIDC_ISSUER is unset, as
    # here; accounts/tests/test_sso.py signs in through them against a real IdP)
    kind: str = "page"
    put: frozenset | None = None  # API rows only: checked when one of the three is offered
    patch: frozenset | None = None
    delete: frozenset | None = None
    query: str = ""  # GET query string; `{datasource}` etc. name World attributes
    redirects: bool = False  # an allowed GET answers a redirect (a step that only routes)

    def allowed(self, method: str) -> frozenset | None:
        return getattr(self, method.lower())


RULES: dict[str, Rule] = {
    # foundation
    "dashboard": Rule(get=READ),
    "search": Rule(get=READ, query="q=acme"),  # audit events only for AUDIT (test_search.py)
    "healthz": Rule(get=EVERYONE, kind="public"),
    "metrics": Rule(get=frozenset(), kind="token"),
    "login": Rule(get=EVERYONE, post=EVERYONE, kind="public"),
    "logout": Rule(post=SIGNED_IN),  # ends one's own session; no role needed
    "sso_start": Rule(get=EVERYONE, kind="sso"),
    "sso_callback": Rule(get=EVERYONE, kind="sso"),
    "webex_webhook": Rule(post=frozenset(), kind="signed"),  # nobody without the signature
    # the second factor after the password: one's own, no role needed (a verified session is
    # sent on; an enrolled one is told how to get a new app)
    "second_factor": Rule(get=SIGNED_IN, post=SIGNED_IN, redirects=True),
    "second_factor_enrol": Rule(get=SIGNED_IN, post=SIGNED_IN),
    # staff: auditors read (access review), operators change (MANAGE_STAFF)
    "accounts:staff_list": Rule(get=AUDIT),
    "accounts:staff_detail": Rule(get=AUDIT),
    "accounts:staff_invite": Rule(get=OP, post=OP),
    "accounts:invite_accept": Rule(get=EVERYONE, post=EVERYONE, kind="public"),
    "accounts:staff_role": Rule(get=OP, post=OP),
    "accounts:staff_deactivate": Rule(get=OP, post=OP),
    "accounts:staff_reactivate": Rule(get=OP, post=OP),
    "accounts:staff_unlock": Rule(get=OP, post=OP),
    "accounts:staff_reset_second_factor": Rule(get=OP, post=OP),
    "accounts:staff_revoke_sessions": Rule(get=OP, post=OP),
    "accounts:access_review": Rule(get=AUDIT),
    "accounts:access_review_csv": Rule(get=AUDIT),
    # API keys (MANAGE_STAFF; the list is read by auditors too)
    "accounts:apikey_list": Rule(get=AUDIT),
    "accounts:apikey_create": Rule(get=OP, post=OP),
    "accounts:apikey_revoke": Rule(get=OP, post=OP),
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
    "tenants:org_suggest": Rule(get=READ, query="org=a"),
    "tenants:org_tokens_paste": Rule(get=EDIT, post=EDIT),
    "tenants:org_refresh": Rule(post=EDIT),
    "offboarding:org_offboard": Rule(get=OP, post=OP),
    "offboarding:org_offboard_resume": Rule(post=OP),
    "offboarding:org_offboard_progress": Rule(get=READ),
    "tenants:serviceapp_list": Rule(get=READ),
    "tenants:serviceapp_create": Rule(get=OP, post=OP),
    "tenants:serviceapp_detail": Rule(get=READ),
    "tenants:serviceapp_register_webhooks": Rule(post=OP),
    "tenants:serviceapp_reconcile": Rule(post=EDIT),
    # the onboarding wizard (ONBOARD_ORGS; step 4 also EDIT_DATASOURCES)
    "onboarding:wizard_app": Rule(get=EDIT, post=EDIT),
    "onboarding:wizard_org": Rule(get=EDIT, post=EDIT),
    "onboarding:wizard_resume": Rule(get=EDIT, redirects=True),
    "onboarding:wizard_tokens": Rule(get=EDIT, post=EDIT),
    "onboarding:wizard_datasource": Rule(get=EDIT, post=EDIT),
    "onboarding:wizard_finish": Rule(get=EDIT, redirects=True),
    # data sources
    "datasources:list": Rule(get=READ),
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
    # bulk operations: rotate needs EDIT_DATASOURCES, disable/enable/offboard OPERATE (the
    # world's operation is a rotation, so onboarding may retry it)
    "operations:list": Rule(get=READ),
    "operations:preview": Rule(get=EDIT, query="kind=rotate&target=datasource&ids={datasource}"),
    "operations:start": Rule(post=EDIT),
    "operations:detail": Rule(get=READ),
    "operations:progress": Rule(get=READ),
    "operations:retry": Rule(post=EDIT),
    # alerts and their channels
    "alerts:list": Rule(get=READ),
    "alerts:incident_raise": Rule(get=OP, post=OP),
    "alerts:acknowledge": Rule(post=EDIT),
    "alerts:detail": Rule(get=READ),
    "alerts:snooze": Rule(post=OP),
    "alerts:silence": Rule(post=OP),
    "alerts:wake": Rule(post=OP),
    "alerts:resolve": Rule(post=OP),
    "alerts:channel_list": Rule(get=OP),
    "alerts:channel_create": Rule(get=OP, post=OP),
    "alerts:channel_edit": Rule(get=OP, post=OP),
    "alerts:channel_delete": Rule(post=OP),
    "alerts:channel_test": Rule(post=OP),
    # API documentation: pages for people, behind the sign-in (VIEW_PORTAL, like the schema)
    "api:docs": Rule(get=READ),
    "api:redoc": Rule(get=READ),
    # ---------------------------------------------------------------- the REST API (/api/)
    "api:schema": Rule(get=READ, kind="api"),
    "api:health": Rule(get=READ, kind="api"),
    "api:serviceapp-list": Rule(get=READ, kind="api"),
    "api:serviceapp-detail": Rule(get=READ, kind="api"),
    "api:org-list": Rule(get=READ, post=EDIT, kind="api"),
    "api:org-detail": Rule(get=READ, kind="api"),
    "api:org-offboard": Rule(post=OP, kind="api"),
    "api:org-token": Rule(get=READ, kind="api"),
    "api:org-token-refresh": Rule(post=EDIT, kind="api"),
    "api:datasource-list": Rule(get=READ, post=EDIT, kind="api"),
    "api:datasource-detail": Rule(get=READ, put=EDIT, patch=EDIT, delete=OP, kind="api"),
    "api:datasource-disable": Rule(post=OP, kind="api"),
    "api:datasource-enable": Rule(post=OP, kind="api"),
    "api:datasource-rotate": Rule(post=EDIT, kind="api"),
    "api:auditevent-list": Rule(get=AUDIT, kind="api"),
    "api:auditevent-detail": Rule(get=AUDIT, kind="api"),
    "api:auditevent-export": Rule(get=AUDIT, kind="api"),
    "api:jws-verify": Rule(post=OP | {"verifier"}, kind="api"),
    # bulk operations: starting needs EDIT; the kind's own permission is checked once known
    "api:bulkoperation-list": Rule(get=READ, post=EDIT, kind="api"),
    "api:bulkoperation-preview": Rule(post=EDIT, kind="api"),
    "api:bulkoperation-detail": Rule(get=READ, kind="api"),
    "api:bulkoperation-items": Rule(get=READ, kind="api"),
    "api:bulkoperation-retry-failures": Rule(post=EDIT, kind="api"),
    # alerts: the pages' permissions
    "api:alert-list": Rule(get=READ, kind="api"),
    "api:alert-detail": Rule(get=READ, kind="api"),
    "api:alert-acknowledge": Rule(post=EDIT, kind="api"),
    "api:alert-incident-raise": Rule(post=OP, kind="api"),
    "api:alert-resolve": Rule(post=OP, kind="api"),
    "api:alert-snooze": Rule(post=OP, kind="api"),
    "api:alert-silence": Rule(post=OP, kind="api"),
    "api:alert-wake": Rule(post=OP, kind="api"),
    "api:alertchannel-test": Rule(post=OP, kind="api"),
    # staff management (MANAGE_STAFF) and the access review (VIEW_AUDIT)
    "api:staff-list": Rule(get=AUDIT, kind="api"),
    "api:staff-detail": Rule(get=AUDIT, kind="api"),
    "api:staff-access-review": Rule(get=AUDIT, kind="api"),
    "api:staff-invite": Rule(post=OP, kind="api"),
    "api:staff-role": Rule(post=OP, kind="api"),
    "api:staff-deactivate": Rule(post=OP, kind="api"),
    "api:staff-reactivate": Rule(post=OP, kind="api"),
    "api:staff-unlock": Rule(post=OP, kind="api"),
    "api:staff-reset-second-factor": Rule(post=OP, kind="api"),
    "api:staff-revoke-sessions": Rule(post=OP, kind="api"),
}

ROUTES = dict(portal_routes())


def methods_of(rule: Rule) -> tuple[str, ...]:
    if any(rule.allowed(m) is not None for m in ("PUT", "PATCH", "DELETE")):
        return ("GET", *WRITES)
    return ("GET", "POST")


CASES = [
    (name, persona, method)
    for name in sorted(ROUTES)
    for persona in PERSONAS
    for method in methods_of(RULES.get(name, Rule()))
]


def test_every_route_has_a_rule():
    missing = sorted(set(ROUTES) - set(RULES))
    stale = sorted(set(RULES) - set(ROUTES))
    assert not missing, f"routes without a row in RULES (say who may GET/POST): {missing}"
    assert not stale, f"RULES rows for routes that no longer exist: {stale}"


def test_api_rows_are_exactly_the_api_routes():
    """Everything under /api/ except the two documentation pages answers as an API (401 JSON,
    not a redirect), and nothing else does."""
    for name, route in ROUTES.items():
        is_api = route.startswith("api/") and name not in {"api:docs", "api:redoc"}
        assert (RULES[name].kind == "api") == is_api, name


def random_path(route: str) -> str:
    """A path with random UUIDs: enough for refusals, which must come before any lookup."""
    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: str(uuid.uuid4()), route)


def query_for(rule: Rule, world) -> str:
    def fill(match):
        return str(getattr(world, match[1]).public_id) if world else str(uuid.uuid4())

    return "?" + re.sub(r"\{(\w+)\}", fill, rule.query) if rule.query else ""


def make_client(request, persona: str):
    if persona in KEY_ROLES:
        return request.getfixturevalue("api_client_for")(KEY_ROLES[persona])
    return request.getfixturevalue("client_for")(persona)


def send(client, method: str, path: str, kind: str):
    if method == "GET":
        return client.get(path)
    if kind == "api":  # an empty JSON body: allowed calls answer 400, never 5xx
        return client.generic(method, path, b"{}", content_type="application/json")
    return client.generic(method, path) if method != "POST" else client.post(path, {})


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "persona", "method"), CASES)
def test_permission_matrix(request, name, persona, method):
    from audit.models import AuditEvent

    rule = RULES.get(name)
    if rule is None:
        pytest.fail(f"{name} has no row in RULES")
    allowed = rule.allowed(method)
    route = ROUTES[name]
    # On pages an API key is no session; on API rows it acts with its role.
    role = KEY_ROLES.get(persona, persona) if rule.kind == "api" else persona
    anonymous = persona == "anonymous" or (persona in KEY_ROLES and rule.kind == "page")
    may = bool(allowed) and role in allowed and not (anonymous and rule.kind == "page")
    world = None
    if may and ("<" in route or rule.query):
        world = request.getfixturevalue("world")
    path = world.path(name, route) if world and "<" in route else random_path(route)
    if method == "GET":
        path += query_for(rule, world)
    client = make_client(request, persona)
    before = AuditEvent.objects.count()
    response = send(client, method, path, rule.kind)
    status = response.status_code
    where = f"{method} {path} as {persona}: {status}"

    if rule.kind == "signed":
        assert status in (403, 405) if method == "POST" else status == 405, where
        return
    if rule.kind == "sso":
        assert status == (404 if method == "GET" else 405), where
        assert AuditEvent.objects.count() == before
        return
    if rule.kind == "token":
        assert status == (404 if method == "GET" else 405), where
        assert AuditEvent.objects.count() == before
        return
    if anonymous and rule.kind == "page":
        assert status == 302 and response.url.startswith("/login/"), where
        assert AuditEvent.objects.count() == before
        return
    if persona == "anonymous" and rule.kind == "api":
        assert status == 401, where
        assert response["WWW-Authenticate"].startswith("Bearer"), where
        if response["Content-Type"].startswith("application/json"):  # the schema is YAML
            assert response.json()["error"]["code"] == "not_authenticated", where
        assert AuditEvent.objects.count() == before
        return
    if allowed is None:
        # DRF checks permissions before the method: a role that may not read the endpoint
        # at all is refused (403) where one that may is told the method is not offered.
        readers = {p for m in ("GET", *WRITES) for p in (rule.allowed(m) or ())}
        assert status == 405 if role in readers else status in (403, 405), where
        return
    if may:
        if method == "GET" and rule.kind != "public":
            if rule.redirects:
                assert status == 302 and not response.url.startswith("/login/"), where
            else:
                assert status == 200, where
        else:
            assert status < 500 and status not in (401, 403, 404, 405), where
            assert not (status == 302 and response.url.startswith("/login/?next=")), where
        return
    assert status == 403, where
    if rule.kind == "api" and response["Content-Type"].startswith("application/json"):
        assert response.json()["error"]["code"] == "permission_denied", where
    assert AuditEvent.objects.count() == before, f"{where} wrote to the audit trail"


OTHER_WRITES = [
    (name, method)
    for name, rule in sorted(RULES.items())
    if rule.kind in ("page", "api") and name in ROUTES
    for method in ("PUT", "PATCH", "DELETE")
    if rule.allowed(method) is None
]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "method"), OTHER_WRITES)
def test_auditors_cannot_put_patch_or_delete_anything(client_for, name, method):
    """Verbs a route does not offer (pages are GET and POST only) are refused before any
    lookup and change nothing (carried over from the former test_url_rules.py)."""
    from audit.models import AuditEvent

    client = client_for("auditor")
    before = AuditEvent.objects.count()
    path = random_path(ROUTES[name])
    status = client.generic(method, path).status_code
    assert status in (403, 405), f"{method} {path}: {status}"
    assert AuditEvent.objects.count() == before


API_VIEWS = [
    (name, entry)
    for name, _, entry in iter_patterns()
    if name.startswith("api:") and name not in {"api:docs", "api:redoc", "api:schema"}
]


@pytest.mark.parametrize(("name", "entry"), API_VIEWS, ids=[n for n, _ in API_VIEWS])
def test_every_api_action_names_its_permission(name, entry):
    """A new endpoint without a permission rule fails here (and would refuse everyone).
    (drf-spectacular's schema and documentation views use SERVE_PERMISSIONS instead.)"""
    from rest_framework.permissions import AllowAny

    from accounts.roles import Perm

    view = entry.callback
    actions = getattr(view, "actions", None)
    assert actions, f"{name}: API views are viewsets mapping methods to named actions"
    assert view.login_required is False, name  # the API authenticates itself (401, not 302)
    perms = view.cls.perms
    known = {v for k, v in vars(Perm).items() if k.isupper()}
    for action in actions.values():
        assert perms.get(action) in known, f"{name}: action {action!r} names no Perm"
    assert AllowAny not in view.cls.permission_classes, name


@pytest.mark.django_db
@pytest.mark.parametrize("persona", [p for p in PERSONAS if p not in KEY_ROLES])
def test_the_admin_is_for_operators_only(client_for, persona):
    response = client_for(persona).get("/admin/")
    if persona == "operator":
        assert response.status_code == 200
    else:
        assert response.status_code == 302 and "/admin/login/" in response.url
