"""Service App token, refresh and the Service App object."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from .openapi import assert_conforms, assert_error_body
from .support import ALL_SCHEMAS, World, app_id_variants, client_id_with_slash

pytestmark = pytest.mark.slow  # runs against a live emulator process

TOKEN_PATH = "/applications/{applicationId}/token"


def _token_body(world: World, org: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    body = {
        "clientId": world.app["clientId"],
        "clientSecret": world.app["clientSecret"],
        "targetOrgId": org["webexId"],
    }
    body.update(overrides)
    return body


def test_token_response_matches_spec_and_default_lifetimes(world: World) -> None:
    response = world.api.app_token(
        world.integration_token, world.app["applicationId"], _token_body(world, world.org_a)
    )
    assert response.status_code == 200
    assert_conforms(response, "POST", TOKEN_PATH)
    body = response.json()
    assert set(body) == {
        "access_token",
        "expires_in",
        "refresh_token",
        "refresh_token_expires_in",
        "token_type",
    }
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 14 * 24 * 3600
    assert body["refresh_token_expires_in"] == 90 * 24 * 3600
    assert body["access_token"] != body["refresh_token"]
    assert world.api.call("GET", "/v1/dataSources", body["access_token"]).status_code == 200
    assert world.api.call("GET", "/v1/dataSources", body["refresh_token"]).status_code == 401


@pytest.mark.parametrize("encoding", ["standard", "standard_percent_encoded", "urlsafe_unpadded"])
@pytest.mark.parametrize("org_form", ["base64", "uuid"])
def test_both_application_id_encodings_and_both_org_id_forms(
    world: World, encoding: str, org_form: str
) -> None:
    client_id = client_id_with_slash()
    app = world.control.create_service_app(
        "Slashy", ["byods.example.com"], ALL_SCHEMAS, client_id=client_id
    )
    world.control.authorize(app["applicationId"], world.org_a["id"])
    variants = app_id_variants(client_id)
    path_id = {
        "standard": variants["standard"],
        "standard_percent_encoded": quote(variants["standard"], safe=""),
        "urlsafe_unpadded": variants["urlsafe_unpadded"],
    }[encoding]
    target = world.org_a["webexId"] if org_form == "base64" else world.org_a["id"]
    body = {"clientId": client_id, "clientSecret": app["clientSecret"], "targetOrgId": target}
    response = world.api.app_token(world.integration_token, path_id, body)
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    created = world.registered(token)
    assert created["applicationId"] == client_id
    assert created["orgId"] == world.org_a["id"]


@pytest.mark.parametrize("field", ["clientId", "clientSecret", "targetOrgId"])
def test_token_names_each_missing_field(world: World, field: str) -> None:
    body = _token_body(world, world.org_a)
    del body[field]
    response = world.api.app_token(world.integration_token, world.app["applicationId"], body)
    assert response.status_code == 400
    assert_conforms(response, "POST", TOKEN_PATH)
    error = assert_error_body(response)
    assert field in error["message"]
    assert error["errors"] == [{"description": f"{field} is required"}]


def test_token_error_cases(world: World) -> None:
    app_id = world.app["applicationId"]
    cases = [
        (None, app_id, _token_body(world, world.org_a), 401),
        ("not-a-token", app_id, _token_body(world, world.org_a), 401),
        (world.token_a, app_id, _token_body(world, world.org_a), 403),
        (
            world.integration_token,
            app_id,
            _token_body(world, world.org_a, clientSecret="wrong"),
            401,
        ),
        (world.integration_token, app_id, _token_body(world, world.org_a, clientId="Cwrong"), 401),
        (
            world.integration_token,
            app_id_variants("Cunknown")["standard"],
            _token_body(world, world.org_a),
            404,
        ),
        (world.integration_token, "garbage", _token_body(world, world.org_a), 404),
        (
            world.integration_token,
            app_id,
            _token_body(world, world.org_a, targetOrgId="not-an-org"),
            400,
        ),
    ]
    for bearer, path_id, body, status in cases:
        response = world.api.app_token(bearer, path_id, body)  # type: ignore[arg-type]
        assert response.status_code == status, (bearer, path_id, body, response.text)
        assert_conforms(response, "POST", TOKEN_PATH)


def test_token_requires_applications_token_scope(world: World) -> None:
    other = world.control.create_integration_token(["spark:people_read"])["accessToken"]
    response = world.api.app_token(
        other, world.app["applicationId"], _token_body(world, world.org_a)
    )
    assert response.status_code == 403
    assert "spark:applications_token" in assert_error_body(response)["message"]


def test_token_for_an_org_that_has_not_authorized_is_403(world: World) -> None:
    stranger = world.control.create_org("Umbrella Health", "eu")
    response = world.api.app_token(
        world.integration_token, world.app["applicationId"], _token_body(world, stranger)
    )
    assert response.status_code == 403
    assert_conforms(response, "POST", TOKEN_PATH)
    world.control.deauthorize(world.app["applicationId"], world.org_b["id"])
    again = world.api.app_token(
        world.integration_token, world.app["applicationId"], _token_body(world, world.org_b)
    )
    assert again.status_code == 403


def _refresh_form(world: World, refresh_token: str, **overrides: str) -> dict[str, str]:
    form = {
        "grant_type": "refresh_token",
        "client_id": world.app["clientId"],
        "client_secret": world.app["clientSecret"],
        "refresh_token": refresh_token,
    }
    form.update(overrides)
    return form


def test_refresh_returns_new_access_token_and_the_same_refresh_token(world: World) -> None:
    refresh = world.tokens_a["refresh_token"]
    world.control.advance_clock(3600)
    response = world.api.refresh(_refresh_form(world, refresh))
    assert response.status_code == 200
    body = response.json()
    assert body["refresh_token"] == refresh
    assert body["access_token"] != world.token_a
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 14 * 24 * 3600
    assert body["refresh_token_expires_in"] == 90 * 24 * 3600
    assert world.api.call("GET", "/v1/dataSources", body["access_token"]).status_code == 200
    assert world.api.call("GET", "/v1/dataSources", world.token_a).status_code == 200
    assert world.api.refresh(_refresh_form(world, refresh)).status_code == 200


def test_rotating_refresh_tokens_invalidate_the_old_one(world: World) -> None:
    world.control.set_config(rotateRefreshTokens=True)
    old = world.tokens_a["refresh_token"]
    response = world.api.refresh(_refresh_form(world, old))
    assert response.status_code == 200
    new = response.json()["refresh_token"]
    assert new != old
    reused = world.api.refresh(_refresh_form(world, old))
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    assert_error_body(reused)
    assert world.api.refresh(_refresh_form(world, new)).status_code == 200


def test_invalid_grant_cases(world: World) -> None:
    unknown = world.api.refresh(_refresh_form(world, "nope"))
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_grant"
    access_as_refresh = world.api.refresh(_refresh_form(world, world.token_a))
    assert (
        access_as_refresh.status_code == 400
        and access_as_refresh.json()["error"] == "invalid_grant"
    )
    # Org B deauthorized: its refresh token is revoked.
    world.control.deauthorize(world.app["applicationId"], world.org_b["id"])
    revoked = world.api.refresh(_refresh_form(world, world.tokens_b["refresh_token"]))
    assert revoked.status_code == 400 and revoked.json()["error"] == "invalid_grant"
    assert_error_body(revoked)
    # Org A's refresh token expires after 90 unused days.
    world.control.advance_clock(90 * 24 * 3600 + 5)
    expired = world.api.refresh(_refresh_form(world, world.tokens_a["refresh_token"]))
    assert expired.status_code == 400 and expired.json()["error"] == "invalid_grant"


def test_refresh_client_and_request_errors(world: World) -> None:
    refresh = world.tokens_a["refresh_token"]
    bad_secret = world.api.refresh(_refresh_form(world, refresh, client_secret="wrong"))
    assert bad_secret.status_code == 401 and bad_secret.json()["error"] == "invalid_client"
    assert_error_body(bad_secret)
    bad_grant_type = world.api.refresh(_refresh_form(world, refresh, grant_type="password"))
    assert (
        bad_grant_type.status_code == 400
        and bad_grant_type.json()["error"] == "unsupported_grant_type"
    )
    form = _refresh_form(world, refresh)
    del form["client_id"]
    missing = world.api.refresh(form)
    assert missing.status_code == 400 and "client_id" in missing.json()["message"]
    as_json = world.api.call("POST", "/v1/access_token", json=_refresh_form(world, refresh))
    assert as_json.status_code == 415


def test_configured_lifetimes_and_clock_expiry(world: World) -> None:
    world.control.set_config(accessTokenLifetimeSeconds=60, refreshTokenLifetimeSeconds=600)
    tokens = world.mint(world.org_a)
    assert tokens["expires_in"] == 60
    assert tokens["refresh_token_expires_in"] == 600
    world.control.advance_clock(61)
    assert world.api.call("GET", "/v1/dataSources", tokens["access_token"]).status_code == 401
    refreshed = world.api.refresh(_refresh_form(world, tokens["refresh_token"]))
    assert refreshed.status_code == 200
    assert (
        world.api.call("GET", "/v1/dataSources", refreshed.json()["access_token"]).status_code
        == 200
    )
    world.control.advance_clock(601)
    assert world.api.refresh(_refresh_form(world, tokens["refresh_token"])).status_code == 400


def test_service_app_object(world: World) -> None:
    variants = app_id_variants(world.app["clientId"])
    for path_id in (world.app["applicationId"], variants["urlsafe_unpadded"]):
        response = world.api.call("GET", f"/v1/applications/{path_id}", world.integration_token)
        assert response.status_code == 200
        body = response.json()
        assert body["id"] == world.app["applicationId"]
        assert body["clientId"] == world.app["clientId"]
        assert body["name"] == world.app["name"]
        assert body["validDomains"] == world.app["validDomains"]
        assert body["dataSourceSchemaIds"] == ALL_SCHEMAS
        assert body["authorizationsCount"] == 2
        entries = {entry["orgId"]: entry for entry in body["authorizationsList"]}
        assert set(entries) == {world.org_a["webexId"], world.org_b["webexId"]}
        entry = entries[world.org_a["webexId"]]
        assert entry["orgName"] == "Globex Retail"
        assert set(entry) == {
            "authorizerId",
            "orgId",
            "orgName",
            "authorizationDate",
            "validDomains",
            "dataSourceSchemaIds",
        }
    world.control.deauthorize(world.app["applicationId"], world.org_b["id"])
    after = world.api.call(
        "GET", f"/v1/applications/{world.app['applicationId']}", world.integration_token
    ).json()
    assert after["authorizationsCount"] == 1
    assert (
        world.api.call(
            "GET", f"/v1/applications/{world.app['applicationId']}", world.token_a
        ).status_code
        == 403
    )
    missing = world.api.call(
        "GET", f"/v1/applications/{app_id_variants('Cnone')['standard']}", world.integration_token
    )
    assert missing.status_code == 404
    assert_error_body(missing)
