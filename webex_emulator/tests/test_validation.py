"""Every documented 400 (and 415) of register/update, and the authorization snapshot."""

from __future__ import annotations

from typing import Any

import pytest

from .openapi import assert_conforms, assert_error_body
from .support import SCHEMA_AUDIO, SCHEMA_MEDIA, SCHEMA_VVA, SCHEMA_VVA_WS, World

pytestmark = pytest.mark.slow  # runs against a live emulator process

REGISTER_FIELDS = ["schemaId", "url", "audience", "subject", "nonce", "tokenLifetimeMinutes"]

BAD_URLS = [
    "https://cisco.com.evil.io/x",
    "https://evilcisco.com/x",
    "https://byods.example.com.evil.io/x",
    "https://xbyods.example.com/x",
    "https://example.com/x",
    "https://cisco.com@evil.io/x",
    "https://evil.io@byods.example.com/x",
    "https://user:pw@byods.example.com/x",
    "https://evil.io\\@byods.example.com/x",
    "http://byods.example.com/x",
    "ftp://byods.example.com/x",
    "byods.example.com/x",
    "https://127.0.0.1/x",
    "https://[::1]/x",
    "https://2130706433/x",
    "https://*.example.com/x",
    "https://byods.example.com:99999/x",
    "https://byods.example.com /x",
    "https:///x",
]


def _register_400(world: World, body: dict[str, Any]) -> dict[str, Any]:
    response = world.api.call("POST", "/v1/dataSources", world.token_a, body)
    assert response.status_code == 400, response.text
    assert_conforms(response, "POST", "/dataSources")
    return assert_error_body(response)


@pytest.mark.parametrize("url", BAD_URLS)
def test_register_rejects_urls_outside_the_approved_domains(world: World, url: str) -> None:
    error = _register_400(world, world.payload(url=url))
    assert "url" in error["message"]
    assert any(item["description"].startswith("url:") for item in error["errors"])


@pytest.mark.parametrize("lifetime", [0, 1441, -5, "abc", "60", True, False, 60.5, [], {}])
def test_register_rejects_bad_token_lifetimes(world: World, lifetime: Any) -> None:
    error = _register_400(world, world.payload(tokenLifetimeMinutes=lifetime))
    assert "tokenLifetimeMinutes" in error["message"]


@pytest.mark.parametrize("lifetime", [1, 1440, 30.0])
def test_register_accepts_lifetime_bounds(world: World, lifetime: float) -> None:
    response = world.register(tokenLifetimeMinutes=lifetime)
    assert response.status_code == 200, response.text
    assert response.json()["tokenLifetimeMinutes"] == int(lifetime)


@pytest.mark.parametrize("field", REGISTER_FIELDS)
def test_register_names_each_missing_field(world: World, field: str) -> None:
    body = world.payload()
    del body[field]
    error = _register_400(world, body)
    assert field in error["message"]
    assert [item["description"] for item in error["errors"]] == [f"{field} is required"]


def test_register_names_all_missing_fields_at_once(world: World) -> None:
    error = _register_400(world, {"schemaId": SCHEMA_VVA})
    for field in REGISTER_FIELDS[1:]:
        assert field in error["message"]
    assert len(error["errors"]) == 5


def test_register_rejects_empty_and_non_string_fields(world: World) -> None:
    error = _register_400(world, world.payload(audience="", subject=7))
    assert "audience" in error["message"] and "subject" in error["message"]


def test_update_requires_the_full_payload_including_status(world: World) -> None:
    created = world.registered()
    path = f"/v1/dataSources/{created['id']}"
    partial = world.api.call("PUT", path, world.token_a, {"nonce": "n-2"})
    assert partial.status_code == 400
    assert_conforms(partial, "PUT", "/dataSources/{dataSourceId}")
    message = assert_error_body(partial)["message"]
    for field in ["schemaId", "url", "audience", "subject", "tokenLifetimeMinutes", "status"]:
        assert field in message
    body = world.update_body(created)
    del body["status"]
    no_status = world.api.call("PUT", path, world.token_a, body)
    assert no_status.status_code == 400
    assert assert_error_body(no_status)["errors"] == [{"description": "status is required"}]
    # Nothing changed.
    assert world.api.call("GET", path, world.token_a).json()["nonce"] == created["nonce"]


@pytest.mark.parametrize("message", [None, "", "   "])
def test_disable_without_error_message_is_400(world: World, message: str | None) -> None:
    created = world.registered()
    body = world.update_body(created, status="disabled", errorMessage=message)
    if message is None:
        del body["errorMessage"]
    response = world.api.call("PUT", f"/v1/dataSources/{created['id']}", world.token_a, body)
    assert response.status_code == 400
    assert "errorMessage" in assert_error_body(response)["message"]


def test_unknown_status_is_400(world: World) -> None:
    created = world.registered()
    response = world.api.call(
        "PUT",
        f"/v1/dataSources/{created['id']}",
        world.token_a,
        world.update_body(created, status="paused"),
    )
    assert response.status_code == 400
    assert "status" in assert_error_body(response)["message"]


def test_update_validates_url_and_lifetime_too(world: World) -> None:
    created = world.registered()
    path = f"/v1/dataSources/{created['id']}"
    for overrides, field in (
        ({"url": "https://cisco.com.evil.io/"}, "url"),
        ({"url": "http://byods.example.com/"}, "url"),
        ({"tokenLifetimeMinutes": 1441}, "tokenLifetimeMinutes"),
        ({"tokenLifetimeMinutes": "abc"}, "tokenLifetimeMinutes"),
        ({"schemaId": SCHEMA_AUDIO}, "schemaId"),
    ):
        response = world.api.call(
            "PUT", path, world.token_a, world.update_body(created, **overrides)
        )
        assert response.status_code == 400, overrides
        assert field in assert_error_body(response)["message"]


def test_malformed_json_is_400_and_wrong_content_type_is_415(world: World) -> None:
    headers = {"Content-Type": "application/json"}
    broken = world.api.call(
        "POST", "/v1/dataSources", world.token_a, data=b'{"schemaId": ', headers=headers
    )
    assert broken.status_code == 400
    assert_conforms(broken, "POST", "/dataSources")
    array = world.api.call("POST", "/v1/dataSources", world.token_a, [1, 2])
    assert array.status_code == 400
    text = world.api.call(
        "POST",
        "/v1/dataSources",
        world.token_a,
        data=b"schemaId=x",
        headers={"Content-Type": "text/plain"},
    )
    assert text.status_code == 415
    assert_conforms(text, "POST", "/dataSources")


def test_schema_not_authorized_for_the_org_is_400(world: World) -> None:
    app = world.control.create_service_app(
        "Narrow", ["byods.example.com"], [SCHEMA_VVA, SCHEMA_MEDIA]
    )
    world.control.authorize(app["applicationId"], world.org_a["id"])
    token = world.mint(world.org_a, app)["access_token"]
    assert world.register(token, schemaId=SCHEMA_VVA).status_code == 200
    for schema_id in (SCHEMA_VVA_WS, "00000000-0000-0000-0000-000000000000"):
        response = world.register(token, schemaId=schema_id)
        assert response.status_code == 400
        assert "schemaId" in assert_error_body(response)["message"]


def test_app_changed_after_authorization_keeps_the_old_snapshot_until_reauthorized(
    world: World,
) -> None:
    control = world.control
    app = control.create_service_app("Snap", ["byods.example.com"], [SCHEMA_VVA])
    control.authorize(app["applicationId"], world.org_a["id"])
    token = world.mint(world.org_a, app)["access_token"]
    control.update_service_app(
        app["applicationId"],
        valid_domains=["new.example.org"],
        schema_ids=[SCHEMA_VVA, SCHEMA_AUDIO],
    )
    # Old snapshot still in force: old domain and schema work, the new ones do not.
    assert world.register(token, url="https://byods.example.com/a").status_code == 200
    new_domain = world.register(token, url="https://new.example.org/a")
    assert new_domain.status_code == 400 and "url" in new_domain.json()["message"]
    new_schema = world.register(token, schemaId=SCHEMA_AUDIO)
    assert new_schema.status_code == 400 and "schemaId" in new_schema.json()["message"]
    snapshot = world.api.call(
        "GET", f"/v1/applications/{app['applicationId']}", world.integration_token
    ).json()
    assert snapshot["validDomains"] == ["new.example.org"]
    assert snapshot["authorizationsList"][0]["validDomains"] == ["byods.example.com"]
    assert snapshot["authorizationsList"][0]["dataSourceSchemaIds"] == [SCHEMA_VVA]

    # Reauthorizing takes a new snapshot; the existing token keeps working.
    control.authorize(app["applicationId"], world.org_a["id"])
    assert world.register(token, url="https://new.example.org/a").status_code == 200
    assert (
        world.register(token, schemaId=SCHEMA_AUDIO, url="https://api.new.example.org/").status_code
        == 200
    )
    old_domain = world.register(token, url="https://byods.example.com/a")
    assert old_domain.status_code == 400 and "url" in old_domain.json()["message"]
