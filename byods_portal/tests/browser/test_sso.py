"""Single sign-on in a real browser: the portal's button, the IdP's own authorization form
(oidc-provider-mock, a real OpenID Connect provider on loopback) and back to the dashboard."""

import importlib
import re

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from accounts.roles import Role, user_role
from accounts.tests.oidc import oidc_provider_fixture, sso_on_fixture  # noqa: F401 - fixtures
from audit.models import AuditEvent
from audit.vocabulary import Action

from .conftest import SCREENSHOTS

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture
def role_groups(transactional_db):
    # a transactional test's flush removed the groups the migration made: recreate them
    importlib.import_module("accounts.migrations.0002_role_groups").create_groups(apps, None)


def sign_in_at_the_idp(page, portal_url, idp, subject: str) -> None:
    page.goto(portal_url("login"))
    page.get_by_role("link", name="Sign in with single sign-on").click()
    page.wait_for_url(re.compile(re.escape(f"{idp.issuer}/oauth2/authorize")))
    page.get_by_placeholder("sub").fill(subject)
    page.get_by_role("button", name="Authorize").click()


def test_staff_sign_in_through_single_sign_on(new_page, portal_url, sso_on, role_groups):
    sso_on.set_user(
        "sub-pat",
        {
            "email": "pat.browser@example.com",
            "name": "Pat Browser",
            "groups": ["byods-audit", "byods-onb", "elsewhere"],
        },
    )
    page = new_page()
    sign_in_at_the_idp(page, portal_url, sso_on, "sub-pat")
    page.wait_for_url(portal_url("dashboard"))
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    nav = page.get_by_role("navigation", name="Main navigation")
    expect(nav.get_by_role("link", name="Orgs")).to_be_visible()
    expect(nav.get_by_role("link", name="Audit trail")).to_have_count(0)  # onboarding, not more
    user = get_user_model().objects.get(username="pat.browser@example.com")
    assert user_role(user) == Role.ONBOARDING
    assert AuditEvent.objects.filter(
        action=Action.STAFF_SSO_SIGNED_IN, target_label="pat.browser@example.com"
    ).exists()


def test_a_person_without_a_mapped_group_sees_why(new_page, portal_url, sso_on, role_groups):
    sso_on.set_user("sub-quinn", {"email": "quinn.browser@example.com", "groups": ["sales"]})
    page = new_page()
    sign_in_at_the_idp(page, portal_url, sso_on, "sub-quinn")
    expect(page.get_by_role("heading", name="Sign-in refused")).to_be_visible()
    expect(page.get_by_text("byods-ops")).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "sso-refused.png"), full_page=True)
    page.get_by_role("link", name="Back to sign-in").click()
    page.wait_for_url(portal_url("login"))
    assert not get_user_model().objects.filter(username="quinn.browser@example.com").exists()
