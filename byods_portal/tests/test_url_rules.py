"""Rules over every URL the project serves, generated from the URL configuration.

A new page is covered the moment it is routed: it must require login (unless listed as public)
and must refuse every write from an auditor. API routes (under /api/, except the two
documentation pages people open in a browser) authenticate themselves: without credentials
they answer 401 in the API's error format instead of redirecting to the sign-in page, and
each of their actions must name the permission it needs.
"""

import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

PUBLIC = {"login", "healthz"}
SIGNED = {"webex_webhook"}  # no login: authenticated by the Webex HMAC signature instead
SIGN_OUT = {"logout"}  # ends the caller's own session; changes no data
API_PAGES = {"api:docs", "api:redoc"}  # HTML for people: behind the sign-in like every page


def iter_patterns(resolver=None, prefix="", namespace=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from iter_patterns(entry, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            yield f"{namespace}{entry.name or ''}", prefix + str(entry.pattern), entry


def concrete_path(route: str) -> str | None:
    """Fill `<uuid:x>`-style converters with sample values; None for regex routes (admin)."""
    if route.startswith("^") or "(?P" in route:
        return None
    path = route
    while "<" in path:
        start, end = path.index("<"), path.index(">")
        kind = path[start + 1 : end].split(":")[0] if ":" in path[start:end] else "str"
        sample = {"uuid": str(uuid.uuid4()), "int": "1", "slug": "x", "str": "x"}.get(kind, "x")
        path = path[:start] + sample + path[end + 1 :]
    return "/" + path


PORTAL_ROUTES = [
    (name, concrete_path(route))
    for name, route, _ in iter_patterns()
    if not name.startswith("admin:") and concrete_path(route) is not None
]


def test_the_route_list_is_not_empty():
    names = {name for name, _ in PORTAL_ROUTES}
    assert {"dashboard", "healthz", "login", "audit:log"} <= names


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "path"), PORTAL_ROUTES)
def test_every_page_requires_login_unless_public(client, name, path):
    response = client.get(path)
    if name in SIGNED:
        assert client.post(path, b"{}", content_type="application/json").status_code == 403
        return
    if name in PUBLIC:
        assert response.status_code in (200, 503)
    elif path.startswith("/api/") and name not in API_PAGES:
        assert response.status_code == 401, path
        if response["Content-Type"].startswith("application/json"):  # the schema answers YAML
            assert response.json()["error"]["code"] == "not_authenticated"
        assert response["WWW-Authenticate"].startswith("Bearer")
    else:
        assert response.status_code == 302 and response.url.startswith("/login/"), path


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "path"), [r for r in PORTAL_ROUTES if r[0] not in PUBLIC | SIGN_OUT | SIGNED]
)
def test_auditors_can_change_nothing(auditor_client, name, path):
    from audit.models import AuditEvent

    before = AuditEvent.objects.count()
    for method in ("post", "put", "patch", "delete"):
        response = getattr(auditor_client, method)(path)
        assert response.status_code in (403, 404, 405), (method, path, response.status_code)
    assert AuditEvent.objects.count() == before


API_ROUTES = [(name, entry) for name, route, entry in iter_patterns() if name.startswith("api:")]


@pytest.mark.parametrize(("name", "entry"), API_ROUTES, ids=[n for n, _ in API_ROUTES])
def test_every_api_action_names_its_permission(name, entry):
    """A new endpoint without a permission rule fails here (and would refuse everyone)."""
    from rest_framework.permissions import AllowAny

    from accounts.roles import Perm

    view = entry.callback
    if name in API_PAGES or name == "api:schema":
        return  # drf-spectacular's views: SERVE_PERMISSIONS, and the sign-in for the pages
    actions = getattr(view, "actions", None)
    assert actions, f"{name}: API views are viewsets mapping methods to named actions"
    assert view.login_required is False, name
    perms = view.cls.perms
    known = {v for k, v in vars(Perm).items() if k.isupper()}
    for action in actions.values():
        assert perms.get(action) in known, f"{name}: action {action!r} names no Perm"
    assert AllowAny not in view.cls.permission_classes, name
