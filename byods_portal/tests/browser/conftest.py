"""Browser tests: Playwright (Python) driving Debian's Chromium against pytest-django's
`live_server`, with the Webex emulator behind the portal over real HTTP.

Playwright's own browser download does not work on our machines, so the tests launch
`/usr/bin/chromium` (`apt-get install chromium`; `.ci/run` installs it when absent). Without it
the tests skip locally and fail under CI. Every test leaves one screenshot per page it opened
in `test-artifacts/screenshots/` (kept by CI, ignored by git).

Fixtures for new tests:
- `page_for(role)`: a new browser page already signed in through the login form as a fresh
  staff user with that role ("operator", "onboarding", "auditor").
- `portal_url(path_or_name, *args)`: an absolute live-server URL from a path or a URL name.
- `portal_app`, `webex_world`, `emulator`: the usual emulator-backed fixtures.
- `active_org`: "Globex Retail", onboarded through the portal's own service against the
  emulator's org (its tokens fetched from Webex).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from tenants.tests.conftest import portal_app  # noqa: F401 - shared fixture

CHROMIUM = os.environ.get("PORTAL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(django_settings.BASE_DIR) / "test-artifacts" / "screenshots"
PASSWORD = "browser-Test-pass-4821"  # noqa: S105 - a throwaway test account's password
LAPTOP = {"width": 1280, "height": 800}
TABLET = {"width": 768, "height": 1024}


@pytest.fixture(scope="module")
def _sync_orm_beside_playwright():
    """Playwright's sync API keeps an asyncio loop registered on the test's thread while the
    browser is open, so Django would refuse the test's own (synchronous) ORM calls and the
    database flush after each test as "async-unsafe". Allow them for exactly as long as the
    browser lives; no code of ours runs on that loop."""
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="module")
def browser(_sync_orm_beside_playwright):
    """One Chromium per test module; closing it ends Playwright's loop, so the rest of the
    session runs exactly as without browser tests."""
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: apt-get install -y chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def portal_url(live_server):
    def url(path_or_name: str, *args) -> str:
        path = path_or_name if path_or_name.startswith("/") else reverse(path_or_name, args=args)
        return f"{live_server.url}{path}"

    return url


@pytest.fixture
def _pages(request, browser):
    """Every page a test opens; each is screenshotted (even when the test fails) and closed."""
    opened: list = []
    yield opened
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    for n, (context, page) in enumerate(opened):
        suffix = "" if len(opened) == 1 else f"-{n + 1}"
        try:
            page.screenshot(path=str(SCREENSHOTS / f"{name}{suffix}.png"), full_page=True)
        finally:
            context.close()


@pytest.fixture
def new_page(browser, _pages):
    def make(viewport: dict | None = None):
        context = browser.new_context(viewport=viewport or LAPTOP, accept_downloads=True)
        context.set_default_timeout(15_000)
        page = context.new_page()
        _pages.append((context, page))
        return page

    return make


def totp_code(device, steps_ahead: int = 0) -> str:
    """The code an authenticator app shows for `device` now (or a step later: a code is
    accepted once, so one used at enrolment is not accepted again in the same 30 s)."""
    from django_otp.oath import TOTP

    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = totp.time + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def _second_factor_for(user):
    """The user's authenticator device, enrolled through the services when the role needs one
    and none exists; None for roles that sign in with the password alone."""
    from accounts.models import AuthenticatorApp
    from accounts.selectors import mfa_required
    from accounts.services import mfa_enrol_begin, mfa_enrol_confirm
    from audit.context import Actor

    if not mfa_required(user):
        return None
    device = AuthenticatorApp.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = mfa_enrol_begin(user=user)
        mfa_enrol_confirm(user=user, token=totp_code(device), actor=Actor.system("test-setup"))
        device.refresh_from_db()
    return device


@pytest.fixture
def page_for(transactional_db, new_page, portal_url):
    """`page_for("auditor")` -> a page signed in as a new auditor through the login form."""
    import importlib

    from django.apps import apps
    from django.contrib.auth import get_user_model

    from accounts.roles import Role
    from accounts.services import staff_user_create
    from audit.context import Actor

    def make(role: str, viewport: dict | None = None):
        # a transactional test's flush removed the groups the migration made: recreate them
        importlib.import_module("accounts.migrations.0002_role_groups").create_groups(apps, None)
        email = f"{role}.browser@example.com"
        if not get_user_model().objects.filter(username=email).exists():
            staff_user_create(
                email=email, role=Role(role), password=PASSWORD, actor=Actor.system("test-setup")
            )
        device = _second_factor_for(get_user_model().objects.get(username=email))
        page = new_page(viewport)
        page.goto(portal_url("login"))
        page.get_by_label("E-mail").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        if device is not None:  # the role needs a second factor: the app's code, as a person
            page.wait_for_url(re.compile(r".*/login/second-factor/.*"))
            page.get_by_role("textbox", name="Code").fill(totp_code(device, steps_ahead=1))
            page.get_by_role("button", name="Verify").click()
        page.wait_for_url(re.compile(r"^(?!.*/login/).*$"))
        return page

    return make


@pytest.fixture
def active_org(portal_app, webex_world):  # noqa: F811 - the imported fixture
    from audit.context import Actor
    from tenants import services as tenant_services

    return tenant_services.org_onboard(
        app=portal_app,
        webex_org_id=webex_world.org_id,
        name="Globex Retail",
        region="us",
        actor=Actor.system("test-setup"),
    )
