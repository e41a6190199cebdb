"""The orgs and Service Apps API against the emulator: same rules and messages as the pages."""

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from tenants import services
from tenants.models import CustomerOrg, OrgToken

from .conftest import SYSTEM

ORGS = "/api/v1/orgs/"


@pytest.fixture
def org(portal_app, webex_world):
    return services.org_onboard(
        app=portal_app,
        webex_org_id=webex_world.org_id,
        name="Globex Retail",
        region="us",
        actor=SYSTEM,
    )


def form_errors(response) -> dict:
    return {k: list(v) for k, v in response.context["form"].errors.items()}


@pytest.mark.django_db
def test_service_apps_are_listed_without_secrets(api_client_for, portal_app, webex_world):
    client = api_client_for("auditor")
    listing = client.get("/api/v1/service-apps/")
    assert listing.status_code == 200
    assert listing.json()["results"][0]["id"] == str(portal_app.public_id)
    assert listing.json()["results"][0]["org_count"] == 0
    one = client.get(f"/api/v1/service-apps/{portal_app.public_id}/")
    assert one.json()["client_id"] == webex_world.client_id
    for response in (listing, one):
        text = response.content.decode()
        assert webex_world.client_secret not in text and webex_world.integration_token not in text


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["operator", "onboarding"])
def test_onboard_fetches_the_tokens(api_client_for, portal_app, webex_world, role):
    client = api_client_for(role)
    response = client.post(
        ORGS,
        {
            "service_app": str(portal_app.public_id),
            "webex_org_id": webex_world.org_webex_id,
            "name": "Globex Retail",
            "region": "us",
            "owner": "",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "active" and body["token"]["has_tokens"] is True
    token = OrgToken.objects.get(org__public_id=body["id"])
    assert token.access_token not in response.content.decode()
    event = AuditEvent.objects.get(action="org.onboarded", outcome="ok")
    assert event.actor == f"api:{client.api_key.prefix}"


@pytest.mark.django_db
def test_onboard_errors_are_the_forms_errors(api_client_for, onboarding_client, portal_app):
    data = {"service_app": portal_app.pk, "webex_org_id": "nonsense", "name": "", "region": "mars"}
    page = onboarding_client.post(reverse("tenants:org_onboard"), data)
    response = api_client_for("onboarding").post(
        ORGS, data | {"service_app": str(portal_app.public_id)}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == form_errors(page)
    unknown = api_client_for("onboarding").post(ORGS, {"service_app": "x"}, format="json")
    page = onboarding_client.post(reverse("tenants:org_onboard"), {"service_app": "-1"})
    assert unknown.json()["error"]["fields"]["service_app"] == form_errors(page)["service_app"]


@pytest.mark.django_db
def test_onboarding_twice_names_the_field(api_client_for, org, portal_app, webex_world):
    response = api_client_for("operator").post(
        ORGS,
        {
            "service_app": str(portal_app.public_id),
            "webex_org_id": webex_world.org_id,
            "name": "Again",
            "region": "us",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "already onboarded" in response.json()["error"]["fields"]["webex_org_id"][0]


@pytest.mark.django_db
def test_onboarding_refused_by_webex_is_a_502(api_client_for, portal_app, emulator):
    stranger = emulator.create_org("Not Yet Inc")
    response = api_client_for("operator").post(
        ORGS,
        {
            "service_app": str(portal_app.public_id),
            "webex_org_id": stranger["id"],
            "name": "Not Yet Inc",
            "region": "us",
        },
        format="json",
    )
    assert response.status_code == 502
    assert "has not authorized the Service App" in response.json()["error"]["message"]
    assert not CustomerOrg.objects.exists()


@pytest.mark.django_db
def test_orgs_list_filters_and_shows_token_status_only(api_client_for, org):
    client = api_client_for("auditor")
    body = client.get(ORGS).json()
    assert body["count"] == 1 and body["results"][0]["token"]["access_expires_at"]
    assert client.get(ORGS, {"status": "offboarded"}).json()["count"] == 0
    assert client.get(ORGS, {"q": "globex"}).json()["count"] == 1
    assert client.get(ORGS, {"q": str(org.webex_org_id)}).json()["count"] == 1
    bad = client.get(ORGS, {"status": "sleepy"})
    assert bad.status_code == 400 and list(bad.json()["error"]["fields"]) == ["status"]
    one = client.get(f"{ORGS}{org.public_id}/").json()
    assert one["name"] == "Globex Retail" and one["authorized_domains"] == ["byods.example.com"]
    token = client.get(f"{ORGS}{org.public_id}/token/")
    assert token.status_code == 200 and token.json()["has_tokens"] is True


@pytest.mark.django_db
def test_refresh_now(api_client_for, org):
    before = OrgToken.objects.get(org=org)
    response = api_client_for("onboarding").post(f"{ORGS}{org.public_id}/token/refresh/")
    assert response.status_code == 200
    body = response.json()
    assert body["outcome"] == "refreshed" and body["token"]["version"] == before.version + 1
    after = OrgToken.objects.get(org=org)
    for secret in (before.access_token, after.access_token, after.refresh_token):
        assert secret not in response.content.decode()


@pytest.mark.django_db
def test_offboard_needs_the_typed_name_then_starts(api_client_for, org, operator_client):
    client = api_client_for("operator")
    url = f"{ORGS}{org.public_id}/offboard/"
    bad = {"confirm_name": "Globex", "mode": "disable", "reason": "Contract ended"}
    refused = client.post(url, bad, format="json")
    page = operator_client.post(reverse("offboarding:org_offboard", args=[org.public_id]), bad)
    assert refused.status_code == 400
    assert refused.json()["error"]["fields"] == form_errors(page)
    assert refused.json()["error"]["fields"]["confirm_name"] == [
        "Type the org's name exactly: Globex Retail"
    ]
    response = client.post(url, bad | {"confirm_name": "Globex Retail"}, format="json")
    assert response.status_code == 202 and response.json()["status"] == "offboarding"
    again = client.post(url, bad | {"confirm_name": "Globex Retail"}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_offboarding"


@pytest.mark.django_db
def test_onboarding_keys_cannot_offboard(api_client_for, org):
    response = api_client_for("onboarding").post(
        f"{ORGS}{org.public_id}/offboard/",
        {"confirm_name": "Globex Retail", "mode": "delete", "reason": "Contract ended"},
        format="json",
    )
    assert response.status_code == 403
    org.refresh_from_db()
    assert org.status == CustomerOrg.Status.ACTIVE
