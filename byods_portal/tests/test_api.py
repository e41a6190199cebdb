"""What every API endpoint shares: the error format, throttling, the schema and its docs, and
no secret in any response."""

import json

import pytest
import yaml
from django.core.management import call_command

from tenants.models import OrgToken

HEALTH = "/api/v1/health/"


def error(response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    return body["error"]


@pytest.mark.django_db
def test_errors_share_one_format(api_client_for):
    client = api_client_for("operator")
    missing = client.get("/api/v1/datasources/00000000-0000-4000-8000-000000000000/")
    assert missing.status_code == 404 and error(missing)["code"] == "not_found"
    assert error(missing)["message"] == "No such data source"
    wrong_method = client.delete("/api/v1/orgs/")
    assert wrong_method.status_code == 405 and error(wrong_method)["code"] == "method_not_allowed"
    broken = client.post("/api/v1/orgs/", "{not json", content_type="application/json")
    assert broken.status_code == 400 and error(broken)["code"] == "parse_error"
    not_object = client.post("/api/v1/orgs/", [1, 2], format="json")
    assert error(not_object) == {
        "code": "invalid",
        "message": "Send a JSON object.",
        "fields": {},
    }
    invalid = client.post("/api/v1/orgs/", {}, format="json")
    fields = error(invalid)["fields"]
    assert set(fields) == {"service_app", "webex_org_id", "name", "region"}
    assert fields["name"] == ["This field is required."]
    assert error(invalid)["message"].startswith("Check the fields: ")


@pytest.mark.django_db
def test_a_key_over_its_rate_gets_429_with_retry_after(api_client_for, settings):
    settings.PORTAL_API_RATE = "3/min"
    client, other = api_client_for("auditor"), api_client_for("auditor")
    assert [client.get(HEALTH).status_code for _ in range(3)] == [200, 200, 200]
    response = client.get(HEALTH)
    assert response.status_code == 429 and error(response)["code"] == "throttled"
    assert 0 < int(response["Retry-After"]) <= 60
    assert other.get(HEALTH).status_code == 200  # counted per key


@pytest.mark.django_db
def test_health_runs_the_healthz_checks(api_client_for, client):
    body = api_client_for("auditor").get(HEALTH).json()
    assert body["status"] == "ok" and set(body["checks"]) == set(
        client.get("/healthz").json()["checks"]
    )


@pytest.mark.django_db
def test_the_schema_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    schema = yaml.safe_load(out.read_text())
    operations = [
        (path, method, op) for path, item in schema["paths"].items() for method, op in item.items()
    ]
    assert len(operations) >= 20
    for path, method, op in operations:
        assert op.get("summary"), (path, method)
        examples = [
            media.get("examples")
            for part in [op.get("requestBody", {}), *op["responses"].values()]
            for media in part.get("content", {}).values()
        ]
        params = [p for p in op.get("parameters", []) if p.get("examples")]
        assert any(examples) or params, f"{method} {path} has no example"
        assert "401" in op["responses"] and "403" in op["responses"], (path, method)


@pytest.mark.django_db
def test_the_schema_needs_credentials_and_the_docs_a_sign_in(
    api_client_for, client, operator_client
):
    assert client.get("/api/schema/").status_code == 401
    assert api_client_for("verifier").get("/api/schema/").status_code == 403
    schema = api_client_for("auditor").get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200 and "/api/v1/datasources/" in schema.json()["paths"]
    for url in ("/api/docs/", "/api/redoc/"):
        assert client.get(url).status_code == 302
        page = operator_client.get(url)
        assert page.status_code == 200
        text = page.content.decode()
        assert "/static/drf_spectacular_sidecar/" in text and "cdn.jsdelivr" not in text


@pytest.mark.django_db
def test_no_response_carries_a_secret(api_client_for, client_for, webex_world, settings):
    """Seed every kind of secret the portal holds, then read every GET endpoint as every role
    (and the schema) and grep the bytes."""
    from datasources.services import datasource_register
    from datasources.tests.conftest import SCHEMA
    from tenants.services import org_onboard, serviceapp_create
    from tenants.tests.conftest import SYSTEM

    settings.WEBEX_REGIONS = {
        r: {"api": webex_world.api_base, "idbroker": webex_world.idbroker_base}
        for r in ("us", "eu", "integration")
    }
    app = serviceapp_create(
        name="Acme",
        client_id=webex_world.client_id,
        client_secret=webex_world.client_secret,
        valid_domains=["byods.example.com"],
        schema_ids=[SCHEMA],
        region="us",
        integration_token=webex_world.integration_token,
        actor=SYSTEM,
    )
    org = org_onboard(
        app=app, webex_org_id=webex_world.org_id, name="Globex", region="us", actor=SYSTEM
    )
    ds = datasource_register(
        org=org,
        schema_id=SCHEMA,
        url="https://rx.byods.example.com/f",
        audience="a",
        subject="s",
        token_lifetime_minutes=60,
        actor=SYSTEM,
    )
    token = OrgToken.objects.get(org=org)
    clients = {role: api_client_for(role) for role in ("operator", "onboarding", "auditor")}
    secrets = [
        webex_world.client_secret,
        webex_world.integration_token,
        token.access_token,
        token.refresh_token,
        ds.nonce,
        *(c.key for c in clients.values()),
        *(c.api_key.secret_hash for c in clients.values()),
    ]
    assert all(secrets)
    urls = [
        "/api/v1/health/",
        "/api/v1/service-apps/",
        f"/api/v1/service-apps/{app.public_id}/",
        "/api/v1/orgs/",
        f"/api/v1/orgs/{org.public_id}/",
        f"/api/v1/orgs/{org.public_id}/token/",
        "/api/v1/datasources/",
        f"/api/v1/datasources/{ds.public_id}/",
        "/api/v1/audit/events/",
        "/api/v1/audit/events/export/",
        "/api/schema/",
    ]
    bodies = []
    for role, client in clients.items():
        for url in urls:
            response = client.get(url)
            assert response.status_code in (200, 403), (role, url)
            content = (
                b"".join(response.streaming_content) if response.streaming else response.content
            )
            bodies.append(content.decode())
    refreshed = clients["operator"].post(f"/api/v1/orgs/{org.public_id}/token/refresh/")
    rotated = clients["operator"].post(f"/api/v1/datasources/{ds.public_id}/rotate/")
    bodies += [refreshed.content.decode(), rotated.content.decode()]
    token.refresh_from_db()
    ds.refresh_from_db()
    secrets += [token.access_token, token.refresh_token, ds.nonce]
    for secret in secrets:
        assert not any(secret in body for body in bodies), secret[:6]
    assert any(json.loads(b).get("count") for b in bodies if b.startswith('{"count"'))


def test_each_app_joins_the_api_with_its_api_urls_module():
    from byods_portal.api.urls import app_api_modules

    # accounts/api/ holds the key authentication and the staff endpoints; third-party apps
    # never count
    assert app_api_modules() == [
        "accounts.api.urls",
        "audit.api.urls",
        "tenants.api.urls",
        "datasources.api.urls",
        "operations.api.urls",
        "alerts.api.urls",
    ]
