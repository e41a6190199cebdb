"""Single sign-on against a real OpenID Connect provider (oidc-provider-mock, see oidc.py).

Each sign-in runs the whole flow over HTTP: the portal's start page sends the browser (here the
Django test client) to the provider's authorization form, the test submits the subject there,
and the provider redirects back to the portal's callback, which exchanges the code, checks the
ID token and syncs the account.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from django.contrib.auth import authenticate, get_user_model
from django.urls import reverse

from accounts.models import StaffIdentity
from accounts.roles import Role, user_role
from accounts.services import staff_user_create
from audit.context import Actor
from audit.models import AuditEvent
from audit.vocabulary import Action

from .oidc import CLIENT_SECRET, oidc_provider_fixture, sso_on_fixture  # noqa: F401

pytestmark = pytest.mark.django_db
User = get_user_model()
ROOT = Path(__file__).resolve().parents[2]


def sso_sign_in(client, idp, sub: str, claims: dict | None = None, *, deny: bool = False):
    """Sign in as `sub` (with `claims`, when given) and return the callback's response."""
    if claims is not None:
        idp.set_user(sub, claims)
    start = client.get(reverse("sso_start"))
    assert start.status_code == 302, start
    assert start.url.startswith(f"{idp.issuer}/oauth2/authorize?"), start.url
    query = urlsplit(start.url).query
    assert "code_challenge=" in query and "nonce=" in query and "state=" in query
    form = {"action": "deny"} if deny else {"sub": sub}
    answer = requests.post(start.url, data=form, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["location"])
    assert back.path == reverse("sso_callback")
    return client.get(f"{back.path}?{back.query}")


def actions_for(target: str) -> list[str]:
    return list(
        AuditEvent.objects.filter(target_label=target)
        .order_by("id")
        .values_list("action", flat=True)
    )


def test_sign_in_creates_the_user_with_the_mapped_role(client, sso_on):
    response = sso_sign_in(
        client,
        sso_on,
        "sub-alice",
        {"email": "Alice@Example.com", "name": "Alice Liddell", "groups": ["byods-onb"]},
    )
    assert response.status_code == 302 and response.url == reverse("dashboard")
    user = User.objects.get(username="alice@example.com")
    assert (user.email, user.first_name, user.last_name) == (
        "alice@example.com",
        "Alice",
        "Liddell",
    )
    assert user_role(user) == Role.ONBOARDING
    assert not user.has_usable_password()
    assert not user.is_staff
    identity = StaffIdentity.objects.get(user=user)
    assert (identity.issuer, identity.subject) == (sso_on.issuer, "sub-alice")
    assert identity.last_sso_login_at is not None
    assert client.get(reverse("dashboard")).status_code == 200
    assert actions_for("alice@example.com") == [
        Action.STAFF_CREATED,
        Action.STAFF_SSO_LINKED,
        Action.STAFF_SSO_SIGNED_IN,
    ]


def test_every_sign_in_updates_the_name_and_email_from_the_claims(client, sso_on):
    claims = {"email": "bob@example.com", "name": "Bob Old", "groups": ["byods-audit"]}
    sso_sign_in(client, sso_on, "sub-bob", claims)
    client.post(reverse("logout"))
    claims |= {"email": "robert@example.com", "name": "Robert New"}
    assert sso_sign_in(client, sso_on, "sub-bob", claims).status_code == 302
    user = StaffIdentity.objects.get(subject="sub-bob").user
    assert (user.username, user.email, user.first_name, user.last_name) == (
        "robert@example.com",
        "robert@example.com",
        "Robert",
        "New",
    )
    event = AuditEvent.objects.get(action=Action.STAFF_SSO_UPDATED)
    assert event.changes["email"] == {"before": "bob@example.com", "after": "robert@example.com"}


def test_several_mapped_groups_give_the_most_powerful_role(client, sso_on):
    claims = {
        "email": "carol@example.com",
        "groups": ["byods-audit", "unrelated", "byods-ops", "byods-onb"],
    }
    assert sso_sign_in(client, sso_on, "sub-carol", claims).status_code == 302
    user = User.objects.get(username="carol@example.com")
    assert user_role(user) == Role.OPERATOR
    assert list(user.groups.values_list("name", flat=True)) == ["operator"]
    assert user.is_staff  # operators may use the Django admin, as staff_user_create decides
    assert client.get(reverse("accounts:staff_list")).status_code == 200


def test_a_person_in_no_mapped_group_is_refused_with_a_page_and_an_audit_event(client, sso_on):
    claims = {"email": "dave@example.com", "groups": ["marketing", "byods-opsx"]}
    response = sso_sign_in(client, sso_on, "sub-dave", claims)
    assert response.status_code == 403
    html = response.content.decode()
    assert "Sign-in refused" in html
    assert "None of your groups at the identity provider gives a role" in html
    for group in ("byods-ops", "byods-onb", "byods-audit"):
        assert f"<code>{group}</code>" in html
    assert CLIENT_SECRET not in html and "client" not in html.lower()
    assert not User.objects.filter(username="dave@example.com").exists()
    assert not StaffIdentity.objects.filter(subject="sub-dave").exists()
    event = AuditEvent.objects.get(action=Action.STAFF_SSO_REFUSED)
    assert event.outcome == AuditEvent.Outcome.FAILED
    assert event.target_label == "dave@example.com"
    assert "marketing" in event.error and CLIENT_SECRET not in event.error
    assert not AuditEvent.objects.filter(action=Action.STAFF_SIGN_IN_FAILED).exists()
    # not signed in
    assert client.get(reverse("dashboard")).url.startswith(reverse("login"))


def test_a_role_removed_at_the_idp_is_removed_at_the_next_sign_in(client, sso_on):
    claims = {"email": "erin@example.com", "groups": ["byods-ops"]}
    sso_sign_in(client, sso_on, "sub-erin", claims)
    user = User.objects.get(username="erin@example.com")
    assert user_role(user) == Role.OPERATOR
    client.post(reverse("logout"))

    # operator -> auditor at the IdP
    claims["groups"] = ["byods-audit"]
    assert sso_sign_in(client, sso_on, "sub-erin", claims).status_code == 302
    user.refresh_from_db()
    assert user_role(user) == Role.AUDITOR and not user.is_staff
    change = AuditEvent.objects.filter(action=Action.STAFF_ROLE_CHANGED).latest("id")
    assert change.changes["role"] == {"before": "operator", "after": "auditor"}
    assert change.actor == "system:sso" and "byods-audit" in change.reason
    client.post(reverse("logout"))

    # no mapped group left: the role goes and the sign-in is refused
    claims["groups"] = []
    assert sso_sign_in(client, sso_on, "sub-erin", claims).status_code == 403
    user.refresh_from_db()
    assert user_role(user) is None
    assert not user.groups.exists()
    change = AuditEvent.objects.filter(action=Action.STAFF_ROLE_CHANGED).latest("id")
    assert change.changes["role"] == {"before": "auditor", "after": None}
    assert actions_for("erin@example.com")[-2:] == [
        Action.STAFF_ROLE_CHANGED,
        Action.STAFF_SSO_REFUSED,
    ]


def test_an_existing_password_account_is_linked_by_its_email(client, sso_on):
    user, password = staff_user_create(
        email="frank@example.com", role=Role.AUDITOR, actor=Actor.system("test")
    )
    claims = {"email": "frank@example.com", "name": "Frank", "groups": ["byods-onb"]}
    assert sso_sign_in(client, sso_on, "sub-frank", claims).status_code == 302
    assert StaffIdentity.objects.get(subject="sub-frank").user == user
    user.refresh_from_db()
    assert user_role(user) == Role.ONBOARDING
    assert user.check_password(password)  # still a password account too


def test_an_operator_through_sso_needs_no_portal_totp_but_their_password_does(client, sso_on):
    """The portal's TOTP guards password sign-ins; the IdP enforces its own factors. A password
    operator later linked to the IdP still gives a code when signing in with the password."""
    from django.test import Client

    user, password = staff_user_create(
        email="olga@example.com", role=Role.OPERATOR, actor=Actor.system("test")
    )
    claims = {"email": "olga@example.com", "name": "Olga", "groups": ["byods-ops"]}
    assert sso_sign_in(client, sso_on, "sub-olga", claims).status_code == 302
    assert client.get(reverse("dashboard")).status_code == 200

    by_password = Client()
    answer = by_password.post(
        reverse("login"), {"username": "olga@example.com", "password": password}
    )
    assert answer.status_code == 302
    page = by_password.get(reverse("dashboard"))
    assert page.status_code == 302 and page.url.startswith(reverse("second_factor_enrol"))

    # The access review says how each person signs in.
    sso_sign_in(Client(), sso_on, "sub-sam", {"email": "sam@example.com", "groups": ["byods-onb"]})
    review = client.get(reverse("accounts:access_review")).content.decode()
    rows = {
        email: review.split(f"{email}</a></td>", 1)[1].split("</tr>", 1)[0]
        for email in ("olga@example.com", "sam@example.com")
    }
    assert "SSO or password" in rows["olga@example.com"]
    assert "<td>SSO</td>" in rows["sam@example.com"]


def test_an_email_linked_to_another_identity_is_not_taken_over(client, sso_on):
    sso_sign_in(client, sso_on, "sub-gina", {"email": "gina@example.com", "groups": ["byods-ops"]})
    client.post(reverse("logout"))
    response = sso_sign_in(
        client, sso_on, "sub-impostor", {"email": "gina@example.com", "groups": ["byods-ops"]}
    )
    assert response.status_code == 403
    assert "linked to another single sign-on identity" in response.content.decode()
    assert StaffIdentity.objects.filter(user__username="gina@example.com").count() == 1


def test_a_deactivated_account_is_refused(client, sso_on):
    sso_sign_in(client, sso_on, "sub-hal", {"email": "hal@example.com", "groups": ["byods-ops"]})
    client.post(reverse("logout"))
    User.objects.filter(username="hal@example.com").update(is_active=False)
    response = sso_sign_in(client, sso_on, "sub-hal")
    assert response.status_code == 403
    assert "deactivated" in response.content.decode()


def test_cancelling_at_the_idp_returns_to_the_sign_in_page(client, sso_on):
    response = sso_sign_in(client, sso_on, "sub-ivy", {"email": "ivy@example.com"}, deny=True)
    assert response.status_code == 302 and response.url == reverse("login")
    page = client.get(reverse("login")).content.decode()
    assert "Single sign-on was cancelled" in page


def test_a_replayed_callback_is_refused(client, sso_on):
    sso_on.set_user("sub-jo", {"email": "jo@example.com", "groups": ["byods-ops"]})
    start = client.get(reverse("sso_start"))
    answer = requests.post(start.url, data={"sub": "sub-jo"}, allow_redirects=False, timeout=10)
    back = urlsplit(answer.headers["location"])
    assert client.get(f"{back.path}?{back.query}").url == reverse("dashboard")
    client.post(reverse("logout"))
    replay = client.get(f"{back.path}?{back.query}")
    assert replay.status_code == 302 and replay.url == reverse("login")
    assert client.get(reverse("dashboard")).url.startswith(reverse("login"))


def test_an_id_token_from_another_issuer_is_refused_and_recorded(client, sso_on):
    """The portal checks the ID token's issuer (mozilla-django-oidc alone does not): here the
    portal expects another issuer than the one that signs, as after an IdP mix-up."""
    import dataclasses
    import time

    from accounts import sso

    real = sso.discovery()
    sso._discovery_cache[sso.issuer()] = (
        time.monotonic(),
        dataclasses.replace(real, issuer="https://other-idp.example.com"),
    )
    claims = {"email": "mia@example.com", "groups": ["byods-ops"]}
    response = sso_sign_in(client, sso_on, "sub-mia", claims)
    assert response.status_code == 302 and response.url == reverse("login")
    assert "Single sign-on did not complete" in client.get(reverse("login")).content.decode()
    assert not User.objects.filter(username="mia@example.com").exists()
    event = AuditEvent.objects.get(action=Action.STAFF_SSO_REFUSED)
    assert event.error == "the identity provider's answer failed verification"


def test_sessions_made_through_sso_end_when_sso_is_switched_off(client, settings, sso_on):
    claims = {"email": "nia@example.com", "groups": ["byods-audit"]}
    sso_sign_in(client, sso_on, "sub-nia", claims)
    assert client.get(reverse("dashboard")).status_code == 200
    settings.PORTAL_OIDC_ISSUER = ""
    assert client.get(reverse("dashboard")).url.startswith(reverse("login"))


# ------------------------------------------------------------------------- the sign-in page
def test_the_sign_in_page_offers_sso_only_when_it_is_on(client, settings, sso_on):
    html = client.get(reverse("login")).content.decode()
    assert "Sign in with single sign-on" in html
    assert f'href="{reverse("sso_start")}"' in html
    assert 'name="password"' in html  # password sign-in stays on by default
    settings.PORTAL_OIDC_ISSUER = ""
    html = client.get(reverse("login")).content.decode()
    assert "single sign-on" not in html
    assert client.get(reverse("sso_start")).status_code == 404


def test_the_sign_in_button_keeps_the_page_asked_for(client, sso_on):
    html = client.get(reverse("login") + "?next=/audit/%3Fq%3Dx").content.decode()
    assert f'href="{reverse("sso_start")}?next=/audit/%3Fq%3Dx"' in html
    sso_on.set_user("sub-kim", {"email": "kim@example.com", "groups": ["byods-audit"]})
    start = client.get(reverse("sso_start") + "?next=/audit/")
    answer = requests.post(start.url, data={"sub": "sub-kim"}, allow_redirects=False, timeout=10)
    back = urlsplit(answer.headers["location"])
    assert client.get(f"{back.path}?{back.query}").url == "/audit/"


def test_password_sign_in_switched_off_refuses_a_password_post(client, settings, sso_on):
    staff_user_create(
        email="lee@example.com",
        role=Role.OPERATOR,
        password="lee-Correct-horse-77",
        actor=Actor.system("test"),
    )
    settings.PORTAL_PASSWORD_SIGNIN = False
    page = client.get(reverse("login")).content.decode()
    assert "Sign in with single sign-on" in page
    assert 'name="password"' not in page
    response = client.post(
        reverse("login"), {"username": "lee@example.com", "password": "lee-Correct-horse-77"}
    )
    assert response.status_code == 403
    assert "Password sign-in is switched off" in response.content.decode()
    assert client.get(reverse("dashboard")).url.startswith(reverse("login"))
    # ...and no other form (the admin's) checks a password either
    assert authenticate(username="lee@example.com", password="lee-Correct-horse-77") is None
    admin = client.post(
        "/admin/login/", {"username": "lee@example.com", "password": "lee-Correct-horse-77"}
    )
    assert admin.status_code == 200 and "_auth_user_id" not in client.session
    # SSO still signs people in
    claims = {"email": "lee@example.com", "groups": ["byods-ops"]}
    assert sso_sign_in(client, sso_on, "sub-lee", claims).url == reverse("dashboard")


def test_password_sign_in_cannot_be_switched_off_without_sso():
    from byods_portal.tests.test_settings import PROD_SECRETS, run_django

    result = run_django("", PORTAL_PASSWORD_SIGNIN="false", **PROD_SECRETS)
    assert result.returncode != 0
    assert "PORTAL_PASSWORD_SIGNIN=false needs single sign-on" in result.stderr
    result = run_django("", PORTAL_OIDC_ISSUER="https://idp.example.com", **PROD_SECRETS)
    assert result.returncode != 0
    assert "PORTAL_OIDC_CLIENT_ID, PORTAL_OIDC_CLIENT_SECRET, PORTAL_OIDC_ROLE_MAP" in (
        result.stderr
    )


# ------------------------------------------------------------------------- configuration
def test_discovery_is_lazy_cached_and_fails_clearly(client, settings, sso_on):
    from accounts import sso

    first = sso.discovery()
    assert first.token_endpoint.startswith(sso_on.issuer)
    assert sso.discovery() is first  # cached
    # An unreachable issuer: constructing the backend (every request with an SSO session
    # does) reads nothing; the sign-in says what is wrong.
    settings.PORTAL_OIDC_ISSUER = "http://127.0.0.1:9"
    sso.discovery_cache_clear()
    sso.PortalOIDCBackend()
    with pytest.raises(sso.SsoConfigError, match=r"Could not read the identity provider's"):
        sso.discovery()
    response = client.get(reverse("sso_start"), follow=True)
    html = response.content.decode()
    assert "Single sign-on is unavailable: Could not read the identity provider" in html
    assert "http://127.0.0.1:9/.well-known/openid-configuration" in html
    assert CLIENT_SECRET not in html


def test_a_discovery_document_for_another_issuer_is_refused(settings):
    """OpenID Connect Discovery §4.3: the document must name the issuer it was asked for."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from accounts import sso

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            body = json.dumps(
                {
                    "issuer": "https://evil.example.com",
                    **{
                        k: "https://evil.example.com/x"
                        for k in ("authorization_endpoint", "token_endpoint")
                    },
                    "userinfo_endpoint": "https://evil.example.com/u",
                    "jwks_uri": "https://evil.example.com/j",
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        settings.PORTAL_OIDC_ISSUER = f"http://127.0.0.1:{server.server_port}"
        sso.discovery_cache_clear()
        with pytest.raises(sso.SsoConfigError, match="names the issuer 'https://evil"):
            sso.discovery()
    finally:
        server.shutdown()
        server.server_close()
        sso.discovery_cache_clear()


@pytest.mark.parametrize(
    ("role_map", "message"),
    [
        ("byods-ops", "is not 'idp-group=role'"),
        ("byods-ops=admin", "names no staff role"),
        ("byods-ops=verifier", "names no staff role"),
    ],
)
def test_a_bad_role_map_is_named(settings, role_map, message):
    from accounts import sso

    settings.PORTAL_OIDC_ISSUER = "https://idp.example.com"
    settings.PORTAL_OIDC_ROLE_MAP = role_map
    with pytest.raises(sso.SsoConfigError, match=message):
        sso.role_map()
    (error,) = sso.check_sso_settings()
    assert message in error.msg


@pytest.mark.parametrize(
    ("claim", "role"),
    [
        (["byods-onb", "byods-audit"], Role.ONBOARDING),
        ("byods-audit byods-ops", Role.OPERATOR),
        ("byods-audit,byods-onb", Role.ONBOARDING),
        ("byods-audit", Role.AUDITOR),
        (["other"], None),
        (None, None),
    ],
)
def test_groups_map_to_the_strongest_role(settings, claim, role):
    from accounts import sso

    settings.PORTAL_OIDC_ROLE_MAP = "byods-ops=operator,byods-onb=onboarding,byods-audit=auditor"
    settings.PORTAL_OIDC_GROUPS_CLAIM = "roles"
    assert sso.role_for_groups(sso.groups_from_claims({"roles": claim})) == role


def test_env_example_documents_the_sso_settings():
    text = (ROOT / ".env.example").read_text()
    for name in (
        "PORTAL_OIDC_ISSUER",
        "PORTAL_OIDC_CLIENT_ID",
        "PORTAL_OIDC_CLIENT_SECRET",
        "PORTAL_OIDC_GROUPS_CLAIM",
        "PORTAL_OIDC_ROLE_MAP",
        "PORTAL_OIDC_SCOPES",
        "PORTAL_PASSWORD_SIGNIN",
    ):
        assert re.search(rf"^# {name}=", text, re.MULTILINE), name
    assert "/sso/callback/" in text  # the redirect URI to register at the IdP
