"""The drift page and its actions, for every persona."""

import pytest
from django.urls import reverse

from datasources.models import DriftFinding
from tenants.models import OrgToken
from webex.client import WebexClient

PERSONAS = ["operator", "onboarding", "auditor", "norole", "anonymous"]


def expect(response, persona, allowed, ok=(200,)):
    if persona == "anonymous":
        assert response.status_code == 302 and "/login/" in response.url
    elif persona in allowed:
        assert response.status_code in ok
    else:
        assert response.status_code == 403


@pytest.fixture
def gone(register, webex_world):
    ds = register()
    WebexClient(api_base=webex_world.api_base).delete_datasource(
        access_token=OrgToken.objects.get(org=ds.org).access_token, datasource_id=ds.webex_id
    )
    return ds


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_drift_page_check_and_resolve_by_persona(client_for, gone, persona, emulator):
    client = client_for(persona)
    org = gone.org
    expect(
        client.get(reverse("datasources:drift_list", args=[org.public_id])),
        persona,
        {"operator", "onboarding", "auditor"},
    )
    response = client.post(reverse("datasources:drift_check", args=[org.public_id]))
    expect(response, persona, {"operator", "onboarding"}, ok=(302,))
    found = DriftFinding.objects.filter(kind="gone_at_webex", resolved_at=None)
    assert found.exists() == (persona in {"operator", "onboarding"})
    if not found.exists():
        return
    finding = found.get()
    response = client.post(
        reverse("datasources:drift_resolve", args=[finding.public_id]), {"resolution": "repair"}
    )
    expect(response, persona, {"operator"}, ok=(302,))
    finding.refresh_from_db()
    assert (finding.resolution == "repaired") == (persona == "operator")
    assert (len(emulator.state()["dataSources"]) == 1) == (persona == "operator")


@pytest.mark.django_db
def test_the_page_lists_open_findings_and_the_repair_needs_a_reason(
    operator_client, register, webex_world, emulator
):
    ds = register()
    from webex.types import DataSourceRequest

    stray = WebexClient(api_base=webex_world.api_base).register_datasource(
        access_token=OrgToken.objects.get(org=ds.org).access_token,
        request=DataSourceRequest(
            schema_id=ds.schema_id,
            url="https://x.byods.example.com/y",
            audience="a",
            subject="s",
            nonce="stray-n",
            token_lifetime_minutes=30,
        ),
    )
    operator_client.post(reverse("datasources:drift_check", args=[ds.org.public_id]))
    html = operator_client.get(reverse("datasources:drift_list", args=[ds.org.public_id]))
    assert "At Webex but unknown here" in html.content.decode()
    finding = DriftFinding.objects.get(webex_id=stray.id)
    response = operator_client.post(
        reverse("datasources:drift_resolve", args=[finding.public_id]),
        {"resolution": "repair"},
        follow=True,
    )
    assert "Deleting at Webex needs a reason" in response.content.decode()
    finding.refresh_from_db()
    assert finding.resolved_at is None
