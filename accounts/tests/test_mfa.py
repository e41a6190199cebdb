"""The second factor: enrolment at first sign-in, codes and recovery codes, the lock after wrong
codes, and what an unverified session may reach (pages and the session API; API keys as ever)."""

import re

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django_otp.oath import TOTP

from accounts import services
from accounts.models import AuthenticatorApp
from accounts.roles import Role
from audit.context import Actor
from audit.models import AuditEvent
from audit.vocabulary import Action

PASSWORD = "a-long-passphrase-1"
INLINE_CODE = re.compile(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=")
SETUP = Actor.system("test-setup")
pytestmark = pytest.mark.django_db


def code_for(device, offset: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = totp.time + offset * device.step
    return f"{totp.token():0{device.digits}d}"


@pytest.fixture
def operator(client_for):
    client_for("auditor")  # the role groups exist (as the personas make them)
    user, _ = services.staff_user_create(
        email="op@example.com", role=Role.OPERATOR, password=PASSWORD, actor=SETUP
    )
    return user


def enrol(user) -> tuple[AuthenticatorApp, list[str]]:
    device = services.mfa_enrol_begin(user=user)
    codes = services.mfa_enrol_confirm(user=user, token=code_for(device), actor=SETUP)
    device.refresh_from_db()
    return device, codes


def password_sign_in(client, email="op@example.com"):
    response = client.post(reverse("login"), {"username": email, "password": PASSWORD})
    assert response.status_code == 302, response.content
    return response


def test_an_operator_without_a_factor_is_sent_to_enrol_and_sees_recovery_codes_once(operator):
    client = Client()
    password_sign_in(client)
    page = client.get(reverse("dashboard"))
    assert page.status_code == 302 and page.url.startswith(reverse("second_factor_enrol"))
    enrol_page = client.get(page.url)
    assert enrol_page.status_code == 200
    text = enrol_page.content.decode()
    assert "<svg" in text and not INLINE_CODE.search(text)
    device = AuthenticatorApp.objects.get(user=operator, confirmed=False)
    secret = re.search(r'data-secret="([A-Z2-7]+)"', text)[1]
    assert secret and device.config_url.find(secret) > 0  # the secret the app gets
    wrong = client.post(page.url, {"token": "000000" if code_for(device) != "000000" else "1"})
    assert wrong.status_code == 200 and "does not match" in wrong.content.decode()
    done = client.post(page.url, {"token": code_for(device)})
    assert done.status_code == 200 and "no-store" in done["Cache-Control"]
    codes = re.findall(r"<li>([a-z2-7]{8})</li>", done.content.decode())
    assert len(codes) == 10
    assert client.get(reverse("dashboard")).status_code == 200  # verified now
    assert AuditEvent.objects.filter(action=Action.STAFF_MFA_ENROLLED).count() == 1
    # once enrolled, the enrolment page neither shows the secret nor new codes again
    again = client.get(reverse("second_factor_enrol"))
    assert secret not in again.content.decode() and codes[0] not in again.content.decode()


def test_an_enrolled_user_signs_in_with_password_and_code(operator):
    device, _ = enrol(operator)
    client = Client()
    password_sign_in(client)
    page = client.get(reverse("datasources:list"))
    assert page.status_code == 302 and page.url.startswith(reverse("second_factor"))
    assert "next=%2Fdatasources%2F" in page.url or "next=/datasources/" in page.url
    bad = client.post(reverse("second_factor"), {"token": "12345"})
    assert bad.status_code == 200 and "not right" in bad.content.decode()
    # a new time step: the enrolment's code cannot be replayed
    with time_machine.travel(_later(31), tick=False):
        good = client.post(
            reverse("second_factor"), {"token": code_for(device), "next": "/datasources/"}
        )
        assert good.status_code == 302 and good.url == "/datasources/"
        assert client.get(reverse("datasources:list")).status_code == 200


def test_a_recovery_code_works_once(operator):
    from django_otp.plugins.otp_static.models import StaticToken

    _, codes = enrol(operator)
    stored = set(StaticToken.objects.values_list("token", flat=True))
    assert len(stored) == 10 and not stored & set(codes)  # kept as digests, not the codes
    client = Client()
    password_sign_in(client)
    response = client.post(reverse("second_factor"), {"token": codes[0].upper()})
    assert response.status_code == 302
    assert client.get(reverse("dashboard")).status_code == 200
    event = AuditEvent.objects.get(action=Action.STAFF_SIGNED_IN_RECOVERY_CODE)
    assert "9 left" in event.summary and codes[0] not in str(event.__dict__)
    client.post(reverse("logout"))
    again = Client()
    password_sign_in(again)
    refused = again.post(reverse("second_factor"), {"token": codes[0]})
    assert refused.status_code == 200 and "already used" in refused.content.decode()
    assert again.get(reverse("dashboard")).status_code == 302


def test_an_unverified_session_is_refused_by_the_api_but_an_api_key_is_not(
    operator, api_client_for
):
    client = Client()
    password_sign_in(client)
    response = client.get("/api/v1/orgs/")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "second_factor_required"
    keyed = api_client_for("operator")
    assert keyed.get("/api/v1/orgs/").status_code == 200
    # a key sent from a half-signed-in browser is still just the key
    cookie = client.cookies["sessionid"].value
    keyed.cookies["sessionid"] = cookie
    assert keyed.get("/api/v1/orgs/").status_code == 200


def test_every_signed_in_page_is_closed_to_an_unverified_operator(operator):
    from byods_portal.tests.security.conftest import portal_routes

    client = Client()
    password_sign_in(client)
    open_to_all = {"login", "healthz", "metrics", "webex_webhook", "accounts:invite_accept"}
    open_to_all |= {"sso_start", "sso_callback"}  # single sign-on: before any session
    own = {"second_factor", "second_factor_enrol", "logout"}
    for name, route in portal_routes():
        if name in open_to_all | own or route.startswith("api/"):
            continue
        path = "/" + re.sub(r"<(?:(\w+):)?(\w+)>", "00000000-0000-4000-8000-000000000000", route)
        response = client.get(path)
        assert response.status_code == 302, f"{path}: {response.status_code}"
        assert response.url.startswith(reverse("second_factor_enrol")), path
    admin = client.get("/admin/")
    assert admin.status_code == 302 and admin.url.startswith(reverse("second_factor_enrol"))
    for api in ("/api/docs/", "/api/redoc/", "/api/schema/", "/api/v1/staff/"):
        assert client.get(api).status_code == 403, api


def test_roles_that_need_no_factor_sign_in_with_the_password_alone(client_for):
    client_for("auditor")
    services.staff_user_create(
        email="aud@example.com", role=Role.AUDITOR, password=PASSWORD, actor=SETUP
    )
    client = Client()
    password_sign_in(client, "aud@example.com")
    assert client.get(reverse("dashboard")).status_code == 200


def test_the_required_roles_come_from_the_setting(client_for, settings):
    settings.PORTAL_MFA_REQUIRED_ROLES = ["auditor"]
    client_for("auditor")
    services.staff_user_create(
        email="aud@example.com", role=Role.AUDITOR, password=PASSWORD, actor=SETUP
    )
    client = Client()
    password_sign_in(client, "aud@example.com")
    assert client.get(reverse("dashboard")).status_code == 302


def test_wrong_codes_lock_code_entry_and_an_operator_unlocks(operator, settings, client_for):
    settings.LOGIN_THROTTLE_FAILURES = 3
    device, _ = enrol(operator)
    client = Client()
    password_sign_in(client)
    for _ in range(3):
        client.post(reverse("second_factor"), {"token": "99999a"})
    locked = client.post(reverse("second_factor"), {"token": code_for(device)})
    assert locked.status_code == 200 and "Too many wrong codes" in locked.content.decode()
    assert AuditEvent.objects.filter(action=Action.STAFF_SIGN_IN_LOCKED).count() == 1
    admin = client_for("operator")
    listing = admin.get(reverse("accounts:staff_list"))
    assert "Locked until" in listing.content.decode()
    url = reverse("accounts:staff_unlock", args=[operator.staff_profile.public_id])
    assert admin.post(url, {"reason": "verified by phone"}).status_code == 302
    assert AuditEvent.objects.get(action=Action.STAFF_UNLOCKED).reason == "verified by phone"
    with time_machine.travel(_later(31), tick=False):
        ok = client.post(reverse("second_factor"), {"token": code_for(device)})
    assert ok.status_code == 302


def _later(seconds: int):
    import datetime as dt

    from django.utils import timezone

    return timezone.now() + dt.timedelta(seconds=seconds)


def test_a_reset_factor_means_enrolling_again(operator, client_for):
    enrol(operator)
    client = Client()
    password_sign_in(client)
    admin = client_for("operator")
    url = reverse("accounts:staff_reset_second_factor", args=[operator.staff_profile.public_id])
    confirm = admin.get(url)
    assert confirm.status_code == 200 and "Reset second factor" in confirm.content.decode()
    assert admin.post(url, {"reason": "lost phone"}).status_code == 302
    assert not AuthenticatorApp.objects.filter(user=operator).exists()
    event = AuditEvent.objects.get(action=Action.STAFF_MFA_RESET)
    assert event.reason == "lost phone" and "1 session ended" in event.summary
    assert client.get(reverse("dashboard")).url.startswith(reverse("login"))  # signed out
    password_sign_in(client)
    assert client.get(reverse("dashboard")).url.startswith(reverse("second_factor_enrol"))


def test_the_authenticator_secret_is_sealed_at_rest_and_a_code_works_once(operator):
    """The TOTP secret is a secret like the org tokens: the column holds only the sealed form,
    and a code accepted once is not accepted again (no replay within its 30 s)."""
    from django.db import connection

    from core.encryption import PREFIX

    device, _ = enrol(operator)
    with connection.cursor() as cursor:
        cursor.execute("SELECT key FROM accounts_authenticatorapp WHERE id = %s", [device.pk])
        (stored,) = cursor.fetchone()
    assert stored.startswith(PREFIX) and device.key not in stored
    assert len(bytes.fromhex(device.key)) == 20
    used = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    used.time = device.t0 + device.last_t * device.step + 1  # the step enrolment accepted
    fresh = AuthenticatorApp.objects.get(pk=device.pk)
    assert fresh.verify_token(f"{used.token():06d}") is False  # already used: no replay
    assert fresh.verify_token("not digits") is False
