"""The header's search: orgs by name or id, data sources by URL, public id or Webex id, audit
events by trackingId or correlation id; grouped results, an empty state, and each role finds
only what it may read."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.services import audit_record
from audit.vocabulary import Action
from byods_portal.tests.bulk import build
from tenants.tests.conftest import SYSTEM

pytestmark = pytest.mark.django_db
URL = reverse("search")


def find(client, term) -> str:
    response = client.get(URL, {"q": term})
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def event(org):
    with transaction.atomic():
        return audit_record(
            action=Action.ORG_TOKENS_REFRESH_FAILED,
            summary="Refreshing Globex failed at Webex",
            actor=SYSTEM,
            target_type="org",
            target_id=org.public_id,
            target_label=org.name,
            org_id=org.public_id,
            outcome="failed",
            error="500",
            tracking_id="ROUTER_5F2B9C1E-SEARCHME",
        )


@pytest.mark.parametrize("persona", ["operator", "onboarding", "auditor"])
def test_it_finds_an_org_a_data_source_and_an_audit_event(
    client_for, org, register, event, persona
):
    ds = register(url="https://rx.byods.example.com/findme")
    client = client_for(persona)
    org_link = reverse("tenants:org_detail", args=[org.public_id])
    ds_link = reverse("datasources:detail", args=[ds.public_id])
    for term in ("globex", str(org.public_id), str(org.webex_org_id), org.webex_org_b64):
        assert org_link in find(client, term), term
    for term in ("rx.byods.example.com/find", str(ds.public_id), ds.webex_id):
        assert ds_link in find(client, term), term
    event_link = reverse("audit:event", args=[event.public_id])
    may_audit = persona in {"operator", "auditor"}
    by_tracking = find(client, "ROUTER_5F2B9C1E-SEARCHME")
    assert (event_link in by_tracking) == may_audit
    assert ("Audit events" in by_tracking) == may_audit
    assert (event_link in find(client, str(event.correlation_id))) == may_audit
    if may_audit:
        assert "Org token refresh failed" in by_tracking  # the action's label, not its code


def test_results_are_grouped_and_the_header_has_the_box(operator_client, org, register):
    register(url="https://rx.byods.example.com/globex-feed")
    html = find(operator_client, "globex")
    assert html.index('id="found-orgs"') < html.index('id="found-datasources"')
    assert 'id="header-search"' in html and f'action="{URL}"' in html


def test_nothing_found_and_too_short_say_so(auditor_client, org):
    assert "Nothing matches “zzz-no-such-thing”" in find(auditor_client, "zzz-no-such-thing")
    assert "Type at least 3 characters" in find(auditor_client, "gl")
    assert "Find an org by its name" in find(auditor_client, "")


@pytest.mark.parametrize("persona, status", [("norole", 403), ("anonymous", 302)])
def test_it_is_refused_without_a_role(client_for, persona, status):
    assert client_for(persona).get(URL, {"q": "globex"}).status_code == status


def _count(client, term) -> int:
    client.get(URL, {"q": term})
    with CaptureQueriesContext(connection) as ctx:
        client.get(URL, {"q": term})
    return len(ctx.captured_queries)


def test_a_search_costs_the_same_at_10_and_200_orgs(operator_client):
    app = build(orgs=10)
    terms = ("Org 0000", "a7c1e2d4-0000-4000-8000-000000000000", "ROUTER_X")
    small = [_count(operator_client, t) for t in terms]
    build(orgs=190, start=10, app=app)
    assert [_count(operator_client, t) for t in terms] == small
    assert max(small) < 15


def test_hostile_terms_are_answered_not_crashed_on(auditor_client, org):
    for term in ("glo\x00bex", "%_%", "' OR 1=1 --", "x" * 5000):
        assert auditor_client.get(URL, {"q": term}).status_code == 200
        suggest = auditor_client.get(reverse("tenants:org_suggest"), {"org": term})
        assert suggest.status_code == 200
    assert "Nothing matches" in find(auditor_client, "%_%")
