"""No page breaks the Content-Security-Policy: an operator visits every main page in Chromium
and the browser reports no violation (no `securitypolicyviolation` event, no "Refused to ..."
console message), ReDoc and Swagger UI included, after they have rendered the schema.

The collector is proven to see violations: an inline style added on purpose is reported.
"""

import re

import pytest
from playwright.sync_api import expect

from accounts.roles import Role
from accounts.services import staff_user_create
from alerts.services import alert_incident_raise
from datasources.services import datasource_register
from operations import tasks
from operations.models import BulkOperation
from tenants import services as tenant_services
from tenants.tests.conftest import SYSTEM

pytestmark = [pytest.mark.slow, pytest.mark.browser]

# Runs in every document before the page's own scripts (Playwright's init scripts are not
# subject to the page's CSP): every violation is kept on window for the test to read.
COLLECT = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.effectiveDirective} blocked ${e.blockedURI || "inline"} `
    + `at ${e.sourceFile || e.documentURI}:${e.lineNumber} (${(e.sample || "").slice(0, 60)})`);
});
"""


@pytest.fixture
def world(portal_app, webex_world, monkeypatch):
    monkeypatch.setattr(tasks.run, "delay", lambda *args: None)  # no worker: the run waits
    org = tenant_services.org_onboard(
        app=portal_app,
        webex_org_id=webex_world.org_id,
        name="Globex Retail",
        region="us",
        actor=SYSTEM,
    )
    sources = [
        datasource_register(
            org=org,
            schema_id="5397013b-7920-4ffc-807c-e8a3e0a18f43",
            url=f"https://rx{i}.byods.example.com/feed",
            audience="byods-rx",
            subject="globex-voice",
            token_lifetime_minutes=60,
            actor=SYSTEM,
        )
        for i in range(2)
    ]
    return portal_app, org, sources


@pytest.fixture
def csp_page(page_for):
    page = page_for("operator")
    page.context.add_init_script(COLLECT)
    console: list[str] = []
    page.on(
        "console",
        lambda m: console.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.console_csp = console
    return page


def violations(page) -> list[str]:
    page.wait_for_load_state("networkidle")
    found = page.evaluate("window.__csp || []") + page.console_csp
    page.console_csp.clear()
    return found


def test_no_page_violates_the_content_security_policy(csp_page, portal_url, world):
    app, org, sources = world
    page = csp_page
    ds = sources[0]
    colleague, _ = staff_user_create(email="colleague@example.com", role=Role.AUDITOR, actor=SYSTEM)
    incident = alert_incident_raise(
        org=org, summary="Customer reports no data", user=None, actor=SYSTEM
    )
    pages = [
        ("dashboard",),
        ("tenants:org_list",),
        ("tenants:org_detail", org.public_id),
        ("tenants:org_onboard",),
        ("onboarding:wizard_app",),
        ("onboarding:wizard_org", app.public_id),
        ("tenants:org_tokens_paste", org.public_id),
        ("offboarding:org_offboard", org.public_id),
        ("tenants:serviceapp_list",),
        ("tenants:serviceapp_detail", app.public_id),
        ("tenants:serviceapp_create",),
        ("datasources:list",),
        ("datasources:detail", ds.public_id),
        ("datasources:register", org.public_id),
        ("datasources:edit", ds.public_id),
        ("datasources:disable", ds.public_id),
        ("datasources:delete", ds.public_id),
        ("datasources:maintenance", ds.public_id),
        ("datasources:drift_list", org.public_id),
        ("operations:list",),
        ("alerts:list",),
        ("alerts:incident_raise",),
        ("alerts:channel_list",),
        ("alerts:channel_create",),
        ("audit:log",),
        ("audit:org_timeline", org.public_id),
        ("audit:datasource_timeline", ds.public_id),
        ("accounts:staff_list",),
        ("accounts:staff_detail", colleague.staff_profile.public_id),
        ("accounts:staff_invite",),
        ("accounts:access_review",),
        ("alerts:detail", incident.public_id),
        ("accounts:apikey_list",),
        ("accounts:apikey_create",),
        ("admin:index",),
    ]
    found: dict[str, list[str]] = {}
    # The header search's results page, with hits of each kind.
    page.goto(portal_url("search") + "?q=Globex")
    expect(page.locator("main")).to_contain_text("Globex Retail")
    found["search"] = violations(page)
    for name, *args in pages:
        response = page.goto(portal_url(name, *args))
        assert response.status < 400, f"{name}: {response.status}"  # noqa: PLR2004
        if v := violations(page):
            found[name] = v

    # The bulk flow: preview from the list, start, the operation's page with its progress bar.
    page.goto(portal_url("datasources:list"))
    for source in sources:
        page.get_by_label(f"Select {source.url}").check()
    page.get_by_label("Bulk action").select_option(label="Disable with a message")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview-sample")).to_contain_text(sources[0].url)
    found["bulk preview"] = violations(page)
    page.get_by_label("Message for the customer's admin").fill("Planned maintenance")
    page.get_by_role("button", name="Disable: 2 data sources").click()
    op = BulkOperation.objects.get()
    page.wait_for_url(portal_url("operations:detail", op.public_id))
    expect(page.get_by_role("progressbar", name="Items done")).to_be_visible()
    found["bulk detail"] = violations(page)
    bar = page.locator("#bulk-progress .progress-bar")
    assert re.search(r"\bpct-0\b", bar.get_attribute("class") or "")

    # The event detail from the audit log.
    page.goto(portal_url("audit:log"))
    page.locator("a[href*='/audit/events/']").first.click()
    page.wait_for_url(re.compile(r"/audit/events/"))
    found["audit:event"] = violations(page)

    # The API docs: rendered from local assets, the schema loaded and shown.
    page.goto(portal_url("api:redoc"))
    expect(page.get_by_role("heading", name=re.compile("BYODS portal API"))).to_be_visible(
        timeout=30_000
    )
    found["api:redoc"] = violations(page)
    page.goto(portal_url("api:docs"))
    expect(page.locator(".swagger-ui .info")).to_contain_text("BYODS portal API", timeout=30_000)
    page.locator(".opblock-summary").first.click()  # expand an operation: more rendering
    found["api:docs"] = violations(page)

    assert {name: v for name, v in found.items() if v} == {}


def test_the_collector_sees_a_violation(csp_page, portal_url, world):
    """Proof the test above can fail: inline style and script are refused and reported."""
    page = csp_page
    page.goto(portal_url("dashboard"))
    page.evaluate(
        """() => {
        const div = document.createElement("div");
        div.innerHTML = '<span style="color: red">x</span>';
        document.body.append(div);
        const s = document.createElement("script");
        s.textContent = "window.__ran = true";
        document.body.append(s);
    }"""
    )
    found = violations(page)
    assert any("style-src" in v for v in found), found
    assert any("script-src" in v for v in found), found
    assert page.evaluate("window.__ran === undefined")
