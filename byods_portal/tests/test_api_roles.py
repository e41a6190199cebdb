"""Every API endpoint for every persona, allowed and refused, from one hand-written table.

Requests use ids that do not exist, so an allowed request gets past the permission check and
then answers 404 (or 400 for an empty body, 200 for lists): never 401 or 403. A refused one
answers 403 (a role without the right) or 401 (no valid credentials). A routed API action
missing from the table fails `test_the_table_covers_every_api_action`.
"""

import datetime as dt
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.services import apikey_revoke
from audit.context import Actor

from .security.conftest import iter_patterns

VIEW = {"operator", "onboarding", "auditor"}
EDIT = {"operator", "onboarding"}
OPS = {"operator"}
AUDIT = {"operator", "auditor"}

# (url name, method) -> the roles allowed. The verifier role may only verify JWS.
ALLOWED = {
    ("api:health", "get"): VIEW,
    ("api:schema", "get"): VIEW,
    ("api:serviceapp-list", "get"): VIEW,
    ("api:serviceapp-detail", "get"): VIEW,
    ("api:org-list", "get"): VIEW,
    ("api:org-list", "post"): EDIT,
    ("api:org-detail", "get"): VIEW,
    ("api:org-offboard", "post"): OPS,
    ("api:org-token", "get"): VIEW,
    ("api:org-token-refresh", "post"): EDIT,
    ("api:datasource-list", "get"): VIEW,
    ("api:datasource-list", "post"): EDIT,
    ("api:datasource-detail", "get"): VIEW,
    ("api:datasource-detail", "put"): EDIT,
    ("api:datasource-detail", "patch"): EDIT,
    ("api:datasource-detail", "delete"): OPS,
    ("api:datasource-disable", "post"): OPS,
    ("api:datasource-enable", "post"): OPS,
    ("api:datasource-rotate", "post"): EDIT,
    ("api:auditevent-list", "get"): AUDIT,
    ("api:auditevent-detail", "get"): AUDIT,
    ("api:auditevent-export", "get"): AUDIT,
    ("api:jws-verify", "post"): {"operator", "verifier"},
    # Bulk: starting needs at least EDIT; the kind's own permission is checked once known.
    ("api:bulkoperation-list", "get"): VIEW,
    ("api:bulkoperation-list", "post"): EDIT,
    ("api:bulkoperation-preview", "post"): EDIT,
    ("api:bulkoperation-detail", "get"): VIEW,
    ("api:bulkoperation-items", "get"): VIEW,
    ("api:bulkoperation-retry-failures", "post"): EDIT,
    # alerts (alerts/api/): the same permissions as the alerts pages
    ("api:alert-list", "get"): VIEW,
    ("api:alert-detail", "get"): VIEW,
    ("api:alert-acknowledge", "post"): EDIT,
    ("api:alert-incident-raise", "post"): OPS,
    ("api:alert-resolve", "post"): OPS,
    ("api:alert-snooze", "post"): OPS,  # snooze, silence, wake: operators only
    ("api:alert-silence", "post"): OPS,
    ("api:alert-wake", "post"): OPS,
    ("api:alertchannel-test", "post"): OPS,  # as the channel pages: operators only
    # staff (accounts/api/): auditors read (access review), operators change
    ("api:staff-list", "get"): AUDIT,
    ("api:staff-detail", "get"): AUDIT,
    ("api:staff-access-review", "get"): AUDIT,
    ("api:staff-invite", "post"): OPS,
    ("api:staff-role", "post"): OPS,
    ("api:staff-deactivate", "post"): OPS,
    ("api:staff-reactivate", "post"): OPS,
    ("api:staff-unlock", "post"): OPS,
    ("api:staff-reset-second-factor", "post"): OPS,
    ("api:staff-revoke-sessions", "post"): OPS,
}
ROLES = ("operator", "onboarding", "auditor", "verifier")
CASES = sorted(ALLOWED)


def _path(name: str) -> str:
    route = next(r for n, r, _ in iter_patterns() if n == name)
    return reverse(name, kwargs={"id": uuid.uuid4()} if "<uuid:id>" in route else None)


def _call(client, name: str, method: str):
    data = {} if method != "get" else None
    return getattr(client, method)(_path(name), data, format="json", HTTP_ACCEPT="application/json")


def test_the_table_covers_every_api_action():
    routed = set()
    for name, _, entry in iter_patterns():
        if not name.startswith("api:") or name in {"api:docs", "api:redoc"}:
            continue
        methods = getattr(entry.callback, "actions", None) or {"get": "schema"}
        routed |= {(name, method) for method in methods if method != "head"}  # HEAD = GET
    assert routed == set(ALLOWED)


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("name", "method"), CASES)
def test_an_api_key_may_do_what_its_role_may(api_client_for, role, name, method):
    response = _call(api_client_for(role), name, method)
    if role in ALLOWED[(name, method)]:
        assert response.status_code not in (401, 403), response.content
    else:
        assert response.status_code == 403, response.content
        assert response.json()["error"]["code"] == "permission_denied"


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["operator", "onboarding", "auditor", "norole"])
@pytest.mark.parametrize(("name", "method"), CASES)
def test_a_signed_in_user_may_do_what_their_role_may(client_for, persona, name, method):
    client = client_for(persona)
    kwargs = {"content_type": "application/json"} if method != "get" else {}
    response = getattr(client, method)(_path(name), **kwargs)
    if persona in ALLOWED[(name, method)]:
        assert response.status_code not in (401, 403)
    else:
        assert response.status_code == 403


@pytest.fixture
def bad_clients(api_client_for):
    from rest_framework.test import APIClient

    def make(kind: str) -> APIClient:
        if kind == "anonymous":
            return APIClient()
        if kind == "revoked":
            client = api_client_for("operator")
            apikey_revoke(api_key=client.api_key, reason="test: revoked", actor=Actor.system("t"))
            return client
        if kind == "expired":
            client = api_client_for("operator", expires_at=timezone.now() + dt.timedelta(hours=1))
            client.api_key.__class__.objects.filter(pk=client.api_key.pk).update(
                expires_at=timezone.now() - dt.timedelta(seconds=1)
            )
            return client
        client = APIClient()
        good = api_client_for("operator").key
        header = {
            "wrong_secret": f"Bearer {good[:-4]}AAAA",
            "unknown_prefix": "Bearer byods_00000000_" + "x" * 43,
            "not_a_key": "Bearer hello",
            "two_words": f"Bearer {good} extra",
        }[kind]
        client.credentials(HTTP_AUTHORIZATION=header)
        return client

    return make


@pytest.mark.django_db
@pytest.mark.parametrize(
    "kind",
    ["anonymous", "revoked", "expired", "wrong_secret", "unknown_prefix", "not_a_key", "two_words"],
)
@pytest.mark.parametrize(("name", "method"), CASES)
def test_without_valid_credentials_everything_is_refused(bad_clients, kind, name, method):
    response = _call(bad_clients(kind), name, method)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    if response["Content-Type"].startswith("application/json"):
        code = response.json()["error"]["code"]
        assert code == ("not_authenticated" if kind == "anonymous" else "authentication_failed")
