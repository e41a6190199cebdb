"""Issue 16 in a browser: the org page lists its data sources and activity and copies the
reauthorization text; the header's search finds an org, a data source and an audit event."""

import pytest
from django.db import transaction
from playwright.sync_api import expect

from audit.services import audit_record
from audit.vocabulary import Action
from datasources.services import datasource_register
from tenants.tests.conftest import SYSTEM

SCHEMA = "5397013b-7920-4ffc-807c-e8a3e0a18f43"


@pytest.fixture
def globex(active_org):
    org = active_org
    ds = datasource_register(
        org=org,
        schema_id=SCHEMA,
        url="https://rx.byods.example.com/feed",
        audience="byods-rx",
        subject="globex-voice",
        token_lifetime_minutes=30,
        actor=SYSTEM,
    )
    return org, ds


def test_the_org_page_tells_the_story(page_for, portal_url, globex):
    org, ds = globex
    page = page_for("operator")
    page.goto(portal_url("tenants:org_detail", org.public_id))
    expect(page.locator(".org-next-deadline")).to_contain_text(
        "Next deadline: Soonest data source JWS expires in"
    )
    sources = page.get_by_role("region", name="Data sources")
    expect(sources.get_by_role("link", name=ds.url)).to_be_visible()
    expect(sources.get_by_text("Voice Virtual Agent Service")).to_have_attribute("title", SCHEMA)
    activity = page.get_by_role("region", name="Recent activity")
    expect(activity.get_by_text("Data source registered")).to_be_visible()
    assert page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


def test_the_header_search_finds_an_org_a_data_source_and_an_audit_event(
    page_for, portal_url, globex
):
    org, ds = globex
    with transaction.atomic():
        event = audit_record(
            action=Action.ORG_TOKENS_REFRESH_FAILED,
            summary="Refreshing Globex failed at Webex",
            actor=SYSTEM,
            org_id=org.public_id,
            outcome="failed",
            error="500",
            tracking_id="ROUTER_BROWSER-7C1D",
        )
    page = page_for("auditor")
    box = page.get_by_role("searchbox", name="Search orgs, data sources and audit events")
    for term, heading, link in [
        ("globex", "Orgs", org.name),
        (ds.webex_id, "Data sources", ds.url),
        ("ROUTER_BROWSER-7C1D", "Audit events", "Org token refresh failed"),
    ]:
        box.fill(term)
        box.press("Enter")
        group = page.get_by_role("region", name=heading)
        expect(group.get_by_role("link", name=link)).to_be_visible()
        box = page.get_by_role("searchbox", name="Search orgs, data sources and audit events")
    page.get_by_role("link", name="Org token refresh failed").click()
    assert str(event.public_id) in page.url
