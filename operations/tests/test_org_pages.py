"""The org list and the org page (issue 16): each org's data source count and worst health,
offboarded orgs out of the default list, and a page that tells the org's story."""

import datetime as dt
import re

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from byods_portal.tests.bulk import build
from datasources.tests.conftest import SCHEMA
from operations import offboarding, views_orgs
from tenants import services as tenant_services
from tenants.services import org_tokens_refresh
from tenants.tests.conftest import SYSTEM

pytestmark = pytest.mark.django_db
PERSONAS = ["operator", "onboarding", "auditor", "norole", "anonymous"]


def page(client, org_):
    return client.get(reverse("tenants:org_detail", args=[org_.public_id]))


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_org_page_lists_its_data_sources_deadlines_and_activity(
    client_for,
    org,
    register,
    persona,
):
    register(url="https://rx.byods.example.com/one")
    register(url="https://rx.byods.example.com/two", token_lifetime_minutes=30)
    response = page(client_for(persona), org)
    if persona == "anonymous":
        assert response.status_code == 302 and "/login/" in response.url
        return
    if persona == "norole":
        assert response.status_code == 403
        return
    html = response.content.decode()
    assert "https://rx.byods.example.com/one" in html and "https://rx.byods.example.com/two" in html
    assert f'<span title="{SCHEMA}">Voice Virtual Agent Service</span>' in html
    assert "Org access token expires" in html and "Soonest data source JWS expires" in html
    # The next deadline is the 30-minute JWS, not the org's 14-day access token.
    assert re.search(
        r"Next deadline:</strong> Soonest data source JWS expires in (29|30) min", html
    )
    assert "Data stops flowing</dt>" not in html  # the old, mislabelled org-token line
    # The audit trail is shown to those who may read it.
    assert ("Recent activity" in html) == (persona in {"operator", "auditor"})
    if persona != "onboarding":
        assert "Data source registered" in html
        assert f"{reverse('audit:log')}?org={org.public_id}" in html
    assert "<script>" not in html and " style=" not in html


def test_the_org_page_says_when_the_jws_lapsed(operator_client, org, register):
    register(token_lifetime_minutes=30)
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=39), tick=False):
        html = page(operator_client, org).content.decode()
    assert re.search(
        r"Next deadline:</strong> Soonest data source JWS expired (9|10) min ago", html
    )
    assert 'JWS <span class="text-danger">lapsed</span>' in html


def test_the_org_page_pages_its_data_sources(operator_client, org, register, monkeypatch):
    monkeypatch.setattr(views_orgs, "DATASOURCES_PER_PAGE", 1)
    register(url="https://rx.byods.example.com/a")
    register(url="https://rx.byods.example.com/b")
    first = page(operator_client, org).content.decode()
    assert "https://rx.byods.example.com/a" in first and "/b</a>" not in first
    assert "Page 1 of 2" in first and "page=2" in first
    url = reverse("tenants:org_detail", args=[org.public_id])
    second = operator_client.get(url, {"page": 2}).content.decode()
    assert "https://rx.byods.example.com/b" in second


def test_a_pending_org_shows_no_moved_on_banner_and_no_reauthorization(
    operator_client,
    portal_app,
    webex_world,
):
    pending = tenant_services.org_onboarding_start(
        app=portal_app, webex_org_id=webex_world.org_id, name="Initech", region="us", actor=SYSTEM
    )
    html = page(operator_client, pending).content.decode()
    assert "has moved on since this org authorized it" not in html
    assert "Copy the reauthorization link" not in html
    assert "has no data sources" in html


def test_an_org_to_reauthorize_offers_the_text_to_copy(
    operator_client,
    org,
    register,
    emulator,
    portal_app,
):
    register(token_lifetime_minutes=30)
    emulator.advance_clock(91 * 86400)  # the refresh token idled out at Webex
    assert org_tokens_refresh(org_id=org.pk, force=True, actor=SYSTEM).outcome == (
        "reauthorization_required"
    )
    html = page(operator_client, org).content.decode()
    assert 'data-copy-target="reauth-text"' in html and "Copy the reauthorization link" in html
    assert f"client id {portal_app.client_id}" in html and "https://admin.webex.com" in html
    assert "/static/js/copy.js" in html and "<script>" not in html
    assert "has moved on since this org authorized it" not in html
    # Rotation waits for the admin: the JWS lapsing is the deadline, not the 14-day token.
    assert re.search(
        r"Next deadline:</strong> Soonest data source JWS expires in (29|30) min", html
    )


def test_the_org_page_shows_the_authorizer_readably(operator_client, org):
    from webex.ids import decode

    html = page(operator_client, org).content.decode()
    region, kind, person = decode(org.authorized_by)  # authorizerId: base64 of a PEOPLE id
    assert kind == "PEOPLE"
    assert f"Webex person {person} ({region})" in html
    assert org.authorized_by[:23] + "…" not in html  # no truncated base64 any more


# ------------------------------------------------------------------------- the org list
def test_the_org_list_shows_counts_and_worst_health(operator_client, org, register):
    register(url="https://rx.byods.example.com/a", token_lifetime_minutes=30)
    register(url="https://rx.byods.example.com/b", token_lifetime_minutes=1440)
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=40), tick=False):
        html = operator_client.get(reverse("tenants:org_list")).content.decode()
    row = html[html.index(org.name) :]
    row = row[: row.index("</tr>")]
    assert f'?org={org.public_id}">2</a>' in row
    assert "Expired</span>" in row and "health=expired" in row


def test_offboarded_orgs_are_hidden_unless_asked(operator_client, org):
    tenant_services.org_offboard_start(
        org=org, confirm_name=org.name, mode="delete", reason="contract ended", actor=SYSTEM
    )
    assert offboarding.org_offboard_run(org=org, actor=SYSTEM) == "offboarded"
    url = reverse("tenants:org_list")
    assert org.name not in operator_client.get(url).content.decode()
    assert "Show offboarded" in operator_client.get(url).content.decode()
    assert org.name in operator_client.get(url, {"offboarded": "1"}).content.decode()
    assert org.name in operator_client.get(url, {"status": "offboarded"}).content.decode()


def _count(client, url, params=None) -> int:
    client.get(url, params or {})
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url, params or {}).status_code == 200
    return len(ctx.captured_queries)


def test_the_org_page_costs_the_same_whatever_its_data_sources(operator_client):
    from tenants.models import CustomerOrg

    app = build(orgs=2, per_org=3)
    build(orgs=1, per_org=80, start=2, app=app)
    orgs = list(CustomerOrg.objects.order_by("name"))
    costs = {
        o.name: _count(operator_client, reverse("tenants:org_detail", args=[o.public_id]))
        for o in orgs
    }
    # Org 000000 and 000001 have 3 data sources, 000002 has 80 (and must reauthorize).
    assert costs["Org 000000"] == costs["Org 000001"] == costs["Org 000002"], costs
    assert costs["Org 000000"] < 25


def test_the_org_list_costs_the_same_at_10_and_120_orgs(operator_client):
    app = build(orgs=10)
    small = _count(operator_client, reverse("tenants:org_list"))
    build(orgs=110, start=10, app=app)
    assert _count(operator_client, reverse("tenants:org_list")) == small
