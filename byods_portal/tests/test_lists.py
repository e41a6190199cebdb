"""Everyday list quality on the audit log, Service Apps, staff and drift pages: search,
sortable columns (with aria-sort), pagination that keeps both, and empty states that say what
to do. Each list is checked for every persona that may or may not open it."""

import uuid

import pytest
from django.db import transaction
from django.urls import reverse

from accounts.roles import Role
from accounts.services import staff_user_create
from audit.context import Actor
from audit.services import audit_record
from audit.vocabulary import Action
from datasources.models import DriftFinding
from tenants import services as tenant_services
from tenants.tests.conftest import SYSTEM, portal_app  # noqa: F401 - shared fixture

PERSONAS = ["operator", "onboarding", "auditor", "norole", "anonymous"]


def expect(response, persona, allowed):
    if persona == "anonymous":
        assert response.status_code == 302 and "/login/" in response.url
    elif persona in allowed:
        assert response.status_code == 200
    else:
        assert response.status_code == 403


# ------------------------------------------------------------------------- Service Apps
@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_serviceapp_list_search_and_sort_by_persona(client_for, portal_app, persona):  # noqa: F811
    client = client_for(persona)
    url = reverse("tenants:serviceapp_list")
    response = client.get(url, {"q": "byods.example", "sort": "-org_count"})
    expect(response, persona, {"operator", "onboarding", "auditor"})
    if persona in {"operator", "onboarding", "auditor"}:
        html = response.content.decode()
        assert "Acme Analytics" in html
        assert 'aria-sort="descending"' in html  # the Orgs column
        assert 'href="?sort=name&amp;q=byods.example"' in html  # sort links keep the search


@pytest.mark.django_db
def test_serviceapp_search_without_match_says_what_to_do(auditor_client, portal_app):  # noqa: F811
    html = auditor_client.get(reverse("tenants:serviceapp_list"), {"q": "nothing-here"})
    html = html.content.decode()
    assert "No Service App matches “nothing-here”" in html and "show them all" in html
    assert "Acme Analytics" not in html


@pytest.mark.django_db
def test_serviceapp_list_sorts_and_refuses_unknown_sorts(auditor_client, portal_app):  # noqa: F811
    from tenants.models import ServiceApp

    ServiceApp.objects.create(name="Zeta", client_id="zeta-client", region="eu")
    names = lambda r: [a.name for a in r.context["apps"]]  # noqa: E731
    assert names(auditor_client.get(reverse("tenants:serviceapp_list"))) == [
        "Acme Analytics",
        "Zeta",
    ]
    by_name_desc = auditor_client.get(reverse("tenants:serviceapp_list"), {"sort": "-name"})
    assert names(by_name_desc) == ["Zeta", "Acme Analytics"]
    bogus = auditor_client.get(reverse("tenants:serviceapp_list"), {"sort": "client_secret"})
    assert bogus.status_code == 200 and names(bogus) == ["Acme Analytics", "Zeta"]


# ------------------------------------------------------------------------- staff
@pytest.mark.django_db
def test_staff_list_sorts_and_pages_keep_search_and_sort(operator_client):
    for n in range(52):
        staff_user_create(email=f"agent{n:02}@example.com", role=Role.AUDITOR, actor=SYSTEM)
    response = operator_client.get(
        reverse("accounts:staff_list"), {"q": "agent", "sort": "-username"}
    )
    html = response.content.decode()
    assert response.context["rows"][0][0].username == "agent51@example.com"
    assert "page=2" in html and "q=agent&amp;sort=-username&amp;page=2" in html
    assert 'aria-sort="descending"' in html


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_staff_list_sorting_by_persona(client_for, persona):
    """Operators manage staff; auditors read the list too (access review is their task)."""
    response = client_for(persona).get(reverse("accounts:staff_list"), {"sort": "last_login"})
    expect(response, persona, {"operator", "auditor"})


# ------------------------------------------------------------------------- audit log
@pytest.fixture
def events():
    with transaction.atomic():
        for summary in ("Onboarded Globex", "Rotated Voice VA", "Onboarded Initech"):
            audit_record(
                action=Action.ORG_ONBOARDED,
                summary=summary,
                actor=Actor.system("test"),
                target_type="org",
                target_id=uuid.uuid4(),
                target_label=summary.split()[-1],
            )


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_audit_search_by_persona(client_for, events, persona):
    response = client_for(persona).get(reverse("audit:log"), {"q": "onboarded"})
    expect(response, persona, {"operator", "auditor"})
    if persona in {"operator", "auditor"}:
        summaries = {e.summary for e in response.context["page"].events}
        assert summaries == {"Onboarded Globex", "Onboarded Initech"}
        html = response.content.decode()
        assert "<time datetime=" in html and "just now" in html and "UTC" in html
        assert "export.csv?q=onboarded" in html  # the export keeps the search


@pytest.mark.django_db
def test_audit_search_without_match_says_what_to_do(auditor_client, events):
    html = auditor_client.get(reverse("audit:log"), {"q": "nothing"}).content.decode()
    assert "No events match this filter" in html


@pytest.mark.django_db
def test_audit_export_honours_the_search(auditor_client, events):
    body = b"".join(auditor_client.get(reverse("audit:export"), {"q": "initech"})).decode()
    assert "Onboarded Initech" in body and "Onboarded Globex" not in body


# ------------------------------------------------------------------------- drift
@pytest.fixture
def drifted_org(portal_app, webex_world):  # noqa: F811
    org = tenant_services.org_onboard(
        app=portal_app, webex_org_id=webex_world.org_id, name="Globex", region="us", actor=SYSTEM
    )
    DriftFinding.objects.create(org=org, webex_id="WX-ALPHA", kind="unknown_here")
    DriftFinding.objects.create(org=org, webex_id="WX-BETA", kind="gone_at_webex")
    return org


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_drift_search_and_kind_filter_by_persona(client_for, drifted_org, persona):
    url = reverse("datasources:drift_list", args=[drifted_org.public_id])
    response = client_for(persona).get(url, {"q": "alpha"})
    expect(response, persona, {"operator", "onboarding", "auditor"})
    if persona in {"operator", "onboarding", "auditor"}:
        assert [f.webex_id for f in response.context["open_findings"]] == ["WX-ALPHA"]


@pytest.mark.django_db
def test_drift_filters_by_kind_sorts_and_says_when_nothing_matches(auditor_client, drifted_org):
    url = reverse("datasources:drift_list", args=[drifted_org.public_id])
    gone = auditor_client.get(url, {"kind": "gone_at_webex"})
    assert [f.webex_id for f in gone.context["open_findings"]] == ["WX-BETA"]
    by_kind = auditor_client.get(url, {"sort": "kind"})
    assert [f.kind for f in by_kind.context["open_findings"]] == ["gone_at_webex", "unknown_here"]
    html = auditor_client.get(url, {"q": "nope"}).content.decode()
    assert "No open difference matches this filter" in html and "Show them all" in html
