"""Issue 16 in a real browser: what the page says when Webex rate-limits (its wait and the
trackingId), when the emulator's clock jumps 14 days (clock skew flagged, the schedule kept
to the token's lifetime), and for an unknown URL (the portal's own 404). Screenshots of each
page land in test-artifacts/screenshots/."""

import pytest
from playwright.sync_api import expect

from datasources.models import DataSource
from datasources.services import datasource_register
from tenants.tests.conftest import SYSTEM

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SCHEMA = "5397013b-7920-4ffc-807c-e8a3e0a18f43"


def test_register_under_a_429_says_webex_wait_and_tracking_id(
    page_for, portal_url, active_org, emulator
):
    emulator.set_faults(
        [
            {
                "method": "POST",
                "pathRegex": "^/v1/dataSources$",
                "kind": "status",
                "status": 429,
                "retryAfter": 30,
                "times": None,
            }
        ]
    )
    page = page_for("onboarding")
    page.goto(portal_url("datasources:register", active_org.public_id))
    page.get_by_label("Schema").select_option(SCHEMA)
    page.get_by_label("URL").fill("https://rx.byods.example.com/feed")
    page.get_by_label("Audience").fill("byods-rx")
    page.get_by_label("Subject").fill("globex-voice")
    page.get_by_role("button", name="Register at Webex").click()
    refusal = page.get_by_text("Webex asks us to wait 30 s; try again after")
    expect(refusal).to_be_visible()
    expect(refusal).to_contain_text("Webex trackingId: ")
    assert not DataSource.objects.exists()


def test_a_clock_jump_is_flagged_on_the_data_source_page(
    page_for, portal_url, active_org, emulator
):
    ds = datasource_register(
        org=active_org,
        schema_id=SCHEMA,
        url="https://rx.byods.example.com/feed",
        audience="byods-rx",
        subject="globex-voice",
        token_lifetime_minutes=30,
        actor=SYSTEM,
    )
    emulator.advance_clock(14 * 86400)
    page = page_for("operator")
    page.goto(portal_url("datasources:detail", ds.public_id))
    page.get_by_role("button", name="Rotate now").click()
    skew = page.locator("#clock-skew")
    expect(skew).to_contain_text("Expiry out of bounds.")
    expect(skew).to_contain_text("Webex reported an expiry 14 days away for a 30-minute token")
    expect(skew).to_contain_text("scheduling with 30 min")
    ds.refresh_from_db()
    assert ds.expiry_skew_since is not None and ds.token_expires_at < ds.expiry_reported_at


def test_an_unknown_url_shows_the_portals_404(page_for, portal_url):
    page = page_for("auditor")
    response = page.goto(portal_url("/no/such/page/"))
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page.get_by_role("link", name="Back to the dashboard")).to_be_visible()
    expect(page.get_by_text("Using the URLconf")).to_have_count(0)
