"""Data Sources API: happy paths, paging, schemas, all checked against the OpenAPI excerpt."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from .openapi import assert_conforms, assert_error_body
from .support import ALL_SCHEMAS, SCHEMA_AUDIO, SCHEMA_VVA, World

pytestmark = pytest.mark.slow  # runs against a live emulator process

ISO_MS_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
RESPONSE_FIELDS = {
    "id",
    "schemaId",
    "orgId",
    "applicationId",
    "url",
    "audience",
    "subject",
    "nonce",
    "tokenLifetimeMinutes",
    "status",
    "errorMessage",
    "jwsToken",
    "tokenExpiryTime",
    "createdBy",
    "createdAt",
    "updatedBy",
    "updatedAt",
}


def _parse(ts: str) -> datetime:
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ")


def test_register_returns_200_with_every_documented_field(world: World) -> None:
    payload = world.payload(tokenLifetimeMinutes=90)
    response = world.api.call("POST", "/v1/dataSources", world.token_a, payload)
    assert response.status_code == 200
    assert_conforms(response, "POST", "/dataSources")
    body = response.json()
    assert set(body) == RESPONSE_FIELDS
    assert body["orgId"] == world.org_a["id"]
    assert body["applicationId"] == world.app["clientId"]
    for name in ("schemaId", "url", "audience", "subject", "nonce", "tokenLifetimeMinutes"):
        assert body[name] == payload[name]
    assert body["status"] == "active"
    assert body["errorMessage"] == ""
    assert body["jwsToken"].count(".") == 2
    for name in ("tokenExpiryTime", "createdAt", "updatedAt"):
        assert ISO_MS_Z.match(body[name]), body[name]
    lifetime = _parse(body["tokenExpiryTime"]) - _parse(body["createdAt"])
    assert timedelta(minutes=90) - timedelta(seconds=2) <= lifetime <= timedelta(minutes=90)
    assert response.headers["trackingId"].startswith("EMULATOR_")


def test_get_returns_the_registered_source_with_its_jws(world: World) -> None:
    created = world.registered()
    response = world.api.call("GET", f"/v1/dataSources/{created['id']}", world.token_a)
    assert response.status_code == 200
    assert_conforms(response, "GET", "/dataSources/{dataSourceId}")
    assert response.json() == created


def test_update_signs_a_new_jws_for_the_new_nonce(world: World) -> None:
    created = world.registered()
    body = world.update_body(created, audience="NewAudience", tokenLifetimeMinutes=120)
    response = world.api.call("PUT", f"/v1/dataSources/{created['id']}", world.token_a, body)
    assert response.status_code == 200
    assert_conforms(response, "PUT", "/dataSources/{dataSourceId}")
    updated = response.json()
    assert updated["nonce"] == body["nonce"] != created["nonce"]
    assert updated["audience"] == "NewAudience"
    assert updated["tokenLifetimeMinutes"] == 120
    assert updated["jwsToken"] != created["jwsToken"]
    assert updated["createdAt"] == created["createdAt"]
    assert updated["id"] == created["id"]
    again = world.api.call("GET", f"/v1/dataSources/{created['id']}", world.token_a).json()
    assert again["jwsToken"] == updated["jwsToken"]
    assert again["tokenExpiryTime"] == updated["tokenExpiryTime"]


def test_disable_keeps_message_and_enable_clears_it(world: World) -> None:
    created = world.registered()
    path = f"/v1/dataSources/{created['id']}"
    disabled = world.api.call(
        "PUT",
        path,
        world.token_a,
        world.update_body(created, status="disabled", errorMessage="down for maintenance"),
    )
    assert disabled.status_code == 200
    assert disabled.json()["status"] == "disabled"
    assert disabled.json()["errorMessage"] == "down for maintenance"
    enabled = world.api.call(
        "PUT",
        path,
        world.token_a,
        world.update_body(disabled.json(), status="active", errorMessage="still here"),
    )
    assert enabled.status_code == 200
    assert enabled.json()["status"] == "active"
    assert enabled.json()["errorMessage"] == ""


def test_delete_is_204_empty_then_404(world: World) -> None:
    created = world.registered()
    path = f"/v1/dataSources/{created['id']}"
    response = world.api.call("DELETE", path, world.token_a)
    assert response.status_code == 204
    assert response.content == b""
    assert response.headers["trackingId"]
    assert_conforms(response, "DELETE", "/dataSources/{dataSourceId}")
    gone = world.api.call("GET", path, world.token_a)
    assert gone.status_code == 404
    assert_conforms(gone, "GET", "/dataSources/{dataSourceId}")
    assert world.api.call("DELETE", path, world.token_a).status_code == 404


def test_list_with_and_without_trailing_slash(world: World) -> None:
    ids = {world.registered()["id"] for _ in range(3)}
    for path in ("/v1/dataSources", "/v1/dataSources/"):
        response = world.api.call("GET", path, world.token_a)
        assert response.status_code == 200
        assert_conforms(response, "GET", "/dataSources/")
        assert {item["id"] for item in response.json()["items"]} == ids
        assert "Link" not in response.headers


def test_list_pages_with_max_and_absolute_link_next(world: World) -> None:
    ids = [world.registered()["id"] for _ in range(5)]
    seen: list[str] = []
    url: str | None = f"{world.base_url}/v1/dataSources?max=2"
    pages = 0
    while url:
        response = world.api.call("GET", url, world.token_a)
        assert response.status_code == 200
        items = response.json()["items"]
        assert len(items) <= 2
        seen += [item["id"] for item in items]
        pages += 1
        link = response.headers.get("Link")
        if link:
            match = re.fullmatch(r'<(http://[^>]+)>; rel="next"', link)
            assert match, link
            url = match.group(1)
            assert url.startswith(world.base_url + "/v1/dataSources?")
        else:
            url = None
    assert pages == 3
    assert seen == ids


def test_exactly_max_items_has_no_next_link(world: World) -> None:
    for _ in range(2):
        world.registered()
    response = world.api.call("GET", "/v1/dataSources?max=2", world.token_a)
    assert len(response.json()["items"]) == 2
    assert "Link" not in response.headers


def test_bad_max_is_400(world: World) -> None:
    for value in ("0", "abc", "-1", "100000"):
        response = world.api.call("GET", f"/v1/dataSources?max={value}", world.token_a)
        assert response.status_code == 400
        assert "max" in assert_error_body(response)["message"]


def test_schemas_list_serves_the_four_real_schemas(world: World) -> None:
    response = world.api.call("GET", "/v1/dataSources/schemas", world.token_a)
    assert response.status_code == 200
    assert_conforms(response, "GET", "/dataSources/schemas")
    items = response.json()["items"]
    assert sorted(item["id"] for item in items) == sorted(ALL_SCHEMAS)
    for item in items:
        assert set(item) == {
            "id",
            "appType",
            "createdAt",
            "protocol",
            "serviceType",
            "url",
            "description",
        }
        assert item["appType"] == "serviceApp"
        assert item["protocol"] in ("gRPC", "web-socket")
        assert item["url"].startswith("https://github.com/webex/dataSourceSchemas/tree/")
        assert item["id"] in item["url"]
    by_id = {item["id"]: item for item in items}
    assert by_id["a38a10b7-43e4-4676-a076-a7d6dce9387d"]["protocol"] == "web-socket"
    assert by_id[SCHEMA_VVA]["description"] == "Voice Virtual Agent Service"
    assert by_id[SCHEMA_VVA]["serviceType"] == "VoiceVirtualAgent"


def test_schema_by_id_and_unknown_schema(world: World) -> None:
    response = world.api.call(
        "GET", f"/v1/dataSources/schemas/{SCHEMA_AUDIO}", world.integration_token
    )
    assert response.status_code == 200
    assert_conforms(response, "GET", "/dataSources/schemas/{schemaId}")
    assert response.json()["id"] == SCHEMA_AUDIO
    assert response.json()["description"] == "Conversation Audio forking Service"
    missing = world.api.call(
        "GET", "/v1/dataSources/schemas/00000000-0000-0000-0000-000000000000", world.token_a
    )
    assert missing.status_code == 404
    assert_conforms(missing, "GET", "/dataSources/schemas/{schemaId}")


def test_subdomains_and_any_port_are_accepted(world: World) -> None:
    for url in (
        "https://byods.example.com/",
        "https://a.b.byods.example.com/x?y=1",
        "https://byods.example.com:8443/svc",
        "https://www.cisco.com/x",
        "https://a.cisco.com/",
        "HTTPS://BYODS.example.com/upper",
    ):
        response = world.register(url=url)
        assert response.status_code == 200, (url, response.text)
        assert response.json()["url"] == url
