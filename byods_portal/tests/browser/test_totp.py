"""Signing in with a password and a TOTP code in a real browser: an operator's first sign-in
enrols an authenticator app (the code computed here from the secret the page shows, as the app
would), and the next sign-in asks for a code."""

import re

import pytest
from django_otp.oath import TOTP
from playwright.sync_api import expect

from accounts.models import AuthenticatorApp
from accounts.roles import Role
from accounts.services import staff_user_create
from audit.context import Actor
from audit.models import AuditEvent
from audit.vocabulary import Action

from .conftest import PASSWORD, totp_code

pytestmark = [pytest.mark.slow, pytest.mark.browser]
EMAIL = "totp.browser@example.com"


def sign_in_with_password(page, portal_url):
    page.goto(portal_url("dashboard"))
    page.get_by_label("E-mail").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def code_from_secret(secret: str, steps_ahead: int = 0) -> str:
    from base64 import b32decode

    totp = TOTP(b32decode(secret))
    totp.time = totp.time + steps_ahead * 30
    return f"{totp.token():06d}"


def test_an_operator_enrols_then_signs_in_with_a_code(transactional_db, new_page, portal_url):
    import importlib

    from django.apps import apps

    importlib.import_module("accounts.migrations.0002_role_groups").create_groups(apps, None)
    staff_user_create(
        email=EMAIL, role=Role.OPERATOR, password=PASSWORD, actor=Actor.system("test-setup")
    )
    page = new_page()
    blocked: list[str] = []  # the enrolment page's QR code and forms stay inside the CSP
    page.on(
        "console",
        lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None,
    )
    sign_in_with_password(page, portal_url)

    # first sign-in: set up the app from the secret on the page, confirm with its code
    page.wait_for_url(re.compile(r".*/login/second-factor/enrol/.*"))
    expect(page.get_by_role("heading", name="Set up a second factor")).to_be_visible()
    expect(page.get_by_role("img", name="QR code of the secret key")).to_be_visible()
    secret = page.locator("#totp-secret").get_attribute("data-secret")
    assert secret and re.fullmatch(r"[A-Z2-7]+", secret)
    page.get_by_role("textbox", name="Code").fill(code_from_secret(secret))
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    assert blocked == []
    page.get_by_role("link", name="I have saved them: continue").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

    # sign out; the next sign-in asks for the code after the password
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r".*/login/.*"))
    sign_in_with_password(page, portal_url)
    page.wait_for_url(re.compile(r".*/login/second-factor/\?.*"))
    wrong = "000000" if code_from_secret(secret, 1) != "000000" else "111111"
    page.get_by_role("textbox", name="Code").fill(wrong)
    page.get_by_role("button", name="Verify").click()
    expect(page.locator(".invalid-feedback")).to_contain_text("not right")
    device = AuthenticatorApp.objects.get(user__username=EMAIL)
    assert totp_code(device, steps_ahead=1) == code_from_secret(secret, 1)  # the same key
    page.get_by_role("textbox", name="Code").fill(code_from_secret(secret, steps_ahead=1))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    assert AuditEvent.objects.filter(action=Action.STAFF_MFA_ENROLLED).count() == 1
