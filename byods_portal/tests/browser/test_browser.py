"""What staff see and do in a real browser (Chromium), against the live portal and the Webex
emulator. Each test leaves screenshots in test-artifacts/screenshots/."""

import csv
import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from audit.models import AuditEvent
from datasources.models import DataSource
from tenants import services as tenant_services
from tenants.models import CustomerOrg
from tenants.tests.conftest import SYSTEM

from .conftest import TABLET

pytestmark = [pytest.mark.slow, pytest.mark.browser]

EVERYONE = {"Dashboard", "Orgs", "Data sources", "Service Apps", "Bulk actions", "Alerts"}
NAV = {
    "operator": EVERYONE | {"Audit trail", "Staff"},
    "onboarding": EVERYONE,
    "auditor": EVERYONE | {"Audit trail", "Staff"},  # Staff: read-only, the access review
}


def nav_labels(page) -> set[str]:
    nav = page.get_by_role("navigation", name="Main navigation")
    return {text.strip() for text in nav.locator(".nav-link").all_inner_texts()}


@pytest.mark.parametrize("role", ["operator", "onboarding", "auditor"])
def test_each_role_sees_what_it_may_use(page_for, portal_url, portal_app, role):
    page = page_for(role)  # a laptop: 1280 px, the whole menu shows
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_role("button", name="Toggle navigation")).to_be_hidden()
    assert fits_the_width(page)
    assert nav_labels(page) == NAV[role]
    page.goto(portal_url("tenants:org_list"))
    onboard = page.get_by_role("link", name="Onboard an org")
    expect(onboard).to_have_count(0 if role == "auditor" else 1)
    page.goto(portal_url("tenants:serviceapp_list"))
    expect(page.get_by_role("link", name="Add a Service App")).to_have_count(
        1 if role == "operator" else 0
    )
    # A page the role may not use answers 403 even when typed in.
    response = page.goto(portal_url("accounts:staff_list"))
    assert response.status == (200 if role in ("operator", "auditor") else 403)


def fits_the_width(page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


def test_pages_fit_a_tablet_and_are_keyboard_usable(page_for, portal_url, active_org):
    page = page_for("operator", viewport=TABLET)
    for name, args in [
        ("dashboard", ()),
        ("tenants:org_detail", (active_org.public_id,)),
        ("tenants:serviceapp_list", ()),
        ("audit:log", ()),
        ("onboarding:wizard_app", ()),
    ]:
        page.goto(portal_url(name, *args))
        assert fits_the_width(page), f"{name} scrolls sideways at 768 px"
    # Below the laptop width the menu folds behind a button that works from the keyboard.
    toggler = page.get_by_role("button", name="Toggle navigation")
    expect(toggler).to_be_visible()
    toggler.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name="Staff")).to_be_visible()
    assert fits_the_width(page)
    # The first Tab lands on the skip link, which moves focus past the navigation.
    page.goto(portal_url("dashboard"))
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    page.keyboard.press("Enter")
    assert page.url.endswith("#main")


def test_the_onboarding_wizard_against_the_emulator(page_for, portal_url, portal_app, webex_world):
    page = page_for("onboarding")
    page.goto(portal_url("tenants:org_list"))
    page.get_by_role("link", name="Onboard an org").click()  # the list's button opens the wizard
    expect(page.locator("[aria-current=step]")).to_contain_text("Service App")
    page.get_by_role("radio", name=re.compile("Acme Analytics")).check()
    page.get_by_role("button", name="Next: the org").click()

    expect(page.locator("[aria-current=step]")).to_contain_text("Org")
    page.get_by_label("Webex org id").fill(webex_world.org_webex_id)
    page.get_by_label("Display name").fill("Globex Retail")
    page.get_by_role("button", name="Next: fetch tokens").click()

    expect(page.locator("[aria-current=step]")).to_contain_text("Tokens")
    page.get_by_role("button", name="Fetch tokens from Webex").click()

    expect(page.locator("[aria-current=step]")).to_contain_text("First data source")
    expect(page.get_by_role("alert")).to_contain_text("its tokens are stored")
    page.get_by_label("Schema").select_option("5397013b-7920-4ffc-807c-e8a3e0a18f43")
    page.get_by_label("URL").fill("https://rx.byods.example.com/feed")
    page.get_by_label("Audience").fill("byods-rx")
    page.get_by_label("Subject").fill("globex-voice")
    page.get_by_role("button", name="Register at Webex").click()

    org = CustomerOrg.objects.get(name="Globex Retail")
    page.wait_for_url(portal_url("tenants:org_detail", org.public_id))
    expect(
        page.get_by_role("alert").filter(has_text="Onboarding complete: Globex Retail is active")
    ).to_contain_text("with 1 data source")
    assert org.status == CustomerOrg.Status.ACTIVE
    assert DataSource.objects.filter(org=org, url="https://rx.byods.example.com/feed").exists()


def test_the_wizard_shows_webex_refusal_with_a_retry(page_for, portal_url, portal_app, webex_world):
    stranger = webex_world.control.create_org("Not Yet Inc")
    org = tenant_services.org_onboarding_start(
        app=portal_app, webex_org_id=stranger["id"], name="Not Yet Inc", region="us", actor=SYSTEM
    )
    page = page_for("onboarding")
    page.goto(portal_url("tenants:org_detail", org.public_id))
    page.get_by_role("link", name="Resume onboarding").click()
    page.get_by_role("button", name="Fetch tokens from Webex").click()
    refusal = page.locator("#refusal")
    expect(refusal).to_contain_text("has not authorized the Service App")
    expect(refusal).to_contain_text("trackingId")
    expect(page.get_by_role("button", name="Try again")).to_be_visible()


def test_an_invalid_url_is_refused_beside_its_field_then_a_valid_one_registers(
    page_for, portal_url, active_org
):
    page = page_for("onboarding")
    page.goto(portal_url("datasources:register", active_org.public_id))
    page.get_by_label("Schema").select_option("5397013b-7920-4ffc-807c-e8a3e0a18f43")
    page.get_by_label("URL").fill("https://evil.example.net/feed")
    page.get_by_label("Audience").fill("byods-rx")
    page.get_by_label("Subject").fill("globex-voice")
    page.get_by_role("button", name="Register at Webex").click()

    url_field = page.get_by_label("URL")
    expect(url_field).to_have_attribute("aria-invalid", "true")
    error = page.locator("#id_url_error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("is not one of this org's authorized domains")
    assert not DataSource.objects.exists()

    url_field.fill("https://rx.byods.example.com/feed")
    page.get_by_role("button", name="Register at Webex").click()
    expect(page.get_by_role("alert").first).to_contain_text("Registered https://rx.byods")
    ds = DataSource.objects.get()
    assert page.url == portal_url("datasources:detail", ds.public_id)


def test_the_audit_log_and_its_csv_export(page_for, portal_url, active_org):
    page = page_for("auditor")
    page.get_by_role("link", name="Audit trail").click()
    expect(page.get_by_role("heading", name="Audit trail")).to_be_visible()
    expect(
        page.get_by_role("cell", name=re.compile("Onboarded Globex Retail")).first
    ).to_be_visible()
    with page.expect_download() as info:
        page.get_by_role("link", name=re.compile("Export CSV")).click()
    download = info.value
    assert download.suggested_filename == "audit-trail.csv"
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert rows[0][:3] == ["occurred_at", "public_id", "actor_type"]
    assert any("Onboarded Globex Retail" in " ".join(row) for row in rows[1:])
    assert AuditEvent.objects.filter(action="audit.exported").exists()
