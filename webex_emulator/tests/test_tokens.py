"""Service App token, refresh (of org and integration tokens) and the Service App object."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from webex_emulator.testing import EmulatorError

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


# ------------------------------------------------------ refreshable integration tokens


def _partner(world: World, **options: Any) -> dict[str, Any]:
    """A refreshable integration token (``withRefresh``) with its client credentials."""
    return world.control.create_integration_token(with_refresh=True, **options)


def _integration_form(
    partner: dict[str, Any], refresh_token: str, **overrides: str
) -> dict[str, str]:
    form = {
        "grant_type": "refresh_token",
        "client_id": partner["clientId"],
        "client_secret": partner["clientSecret"],
        "refresh_token": refresh_token,
    }
    form.update(overrides)
    return form


def _mint_with(world: World, integration_token: str) -> Any:
    response = world.api.app_token(
        integration_token, world.app["applicationId"], _token_body(world, world.org_a)
    )
    assert_conforms(response, "POST", TOKEN_PATH)
    return response


def test_with_refresh_issues_a_client_and_a_refresh_token(world: World) -> None:
    plain = world.control.create_integration_token()
    assert set(plain) == {"accessToken", "expiresIn", "scopes", "personId"}
    partner = _partner(world, lifetime_seconds=3600, person_id="partner-dev")
    assert set(partner) == {
        "accessToken",
        "expiresIn",
        "scopes",
        "personId",
        "refreshToken",
        "refreshTokenExpiresIn",
        "clientId",
        "clientSecret",
    }
    assert partner["expiresIn"] == 3600
    assert partner["refreshTokenExpiresIn"] == 90 * 24 * 3600
    assert partner["scopes"] == ["spark:applications_token"]
    assert partner["personId"] == "partner-dev"
    assert partner["clientId"] != world.app["clientId"]
    assert partner["refreshToken"] != partner["accessToken"]
    other = _partner(world)
    assert other["clientId"] != partner["clientId"]
    assert other["clientSecret"] != partner["clientSecret"]
    # The refresh token is no bearer token.
    refresh_as_bearer = _mint_with(world, partner["refreshToken"])
    assert refresh_as_bearer.status_code == 401
    assert _mint_with(world, partner["accessToken"]).status_code == 200

    state = world.control.state()
    clients = {client["clientId"]: client for client in state["integrationClients"]}
    assert set(clients) == {partner["clientId"], other["clientId"]}
    stored = clients[partner["clientId"]]
    assert stored["clientSecret"] == partner["clientSecret"]
    assert stored["personId"] == "partner-dev"
    assert stored["scopes"] == ["spark:applications_token"]
    assert stored["accessTokenLifetimeSeconds"] == 3600
    tokens = {token["token"]: token for token in state["tokens"]}
    assert tokens[partner["refreshToken"]]["kind"] == "integration_refresh"
    assert tokens[partner["accessToken"]]["kind"] == "integration"
    assert tokens[partner["accessToken"]]["clientId"] == partner["clientId"]

    world.control.set_config(refreshTokenLifetimeSeconds=600)
    assert _partner(world)["refreshTokenExpiresIn"] == 600
    not_a_boolean = world.api.call(
        "POST", f"{world.base_url}/_emulator/integration-tokens", json={"withRefresh": "yes"}
    )
    assert not_a_boolean.status_code == 400
    assert_error_body(not_a_boolean)


def test_refreshed_integration_token_works_like_the_original(world: World) -> None:
    partner = _partner(world, scopes=["spark:applications_token", "spark:people_read"])
    hook = world.api.call(
        "POST",
        "/v1/webhooks",
        partner["accessToken"],
        {
            "name": "authorizations",
            "targetUrl": "https://partner.example.com/hooks",
            "resource": "serviceApp",
            "event": "authorized",
        },
    )
    assert hook.status_code == 200
    assert_conforms(hook, "POST", "/webhooks")
    world.control.advance_clock(3600)
    response = world.api.refresh(_integration_form(partner, partner["refreshToken"]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {
        "access_token",
        "expires_in",
        "refresh_token",
        "refresh_token_expires_in",
        "token_type",
    }
    assert body["token_type"] == "Bearer"
    assert body["refresh_token"] == partner["refreshToken"]
    assert body["expires_in"] == 14 * 24 * 3600
    assert body["refresh_token_expires_in"] == 90 * 24 * 3600
    fresh = body["access_token"]
    assert fresh not in (partner["accessToken"], partner["refreshToken"])

    minted = _mint_with(world, fresh)
    assert minted.status_code == 200
    assert (
        world.api.call("GET", "/v1/dataSources", minted.json()["access_token"]).status_code == 200
    )
    app = world.api.call("GET", f"/v1/applications/{world.app['applicationId']}", fresh)
    assert app.status_code == 200 and app.json()["clientId"] == world.app["clientId"]
    listed = world.api.call("GET", "/v1/webhooks", fresh)
    assert_conforms(listed, "GET", "/webhooks")
    assert [item["id"] for item in listed.json()["items"]] == [hook.json()["id"]]
    assert world.api.call("GET", "/v1/dataSources", fresh).status_code == 403

    state = world.control.state()
    stored = next(token for token in state["tokens"] if token["token"] == fresh)
    assert stored["kind"] == "integration"
    assert stored["scopes"] == ["spark:applications_token", "spark:people_read"]
    assert stored["personId"] == partner["personId"]
    # The old access token keeps working until it expires; so does the refresh token.
    assert _mint_with(world, partner["accessToken"]).status_code == 200
    again = world.api.refresh(_integration_form(partner, partner["refreshToken"]))
    assert again.status_code == 200


def test_refreshed_integration_token_keeps_the_original_lifetime(world: World) -> None:
    partner = _partner(world, lifetime_seconds=60)
    world.control.advance_clock(61)
    assert _mint_with(world, partner["accessToken"]).status_code == 401
    response = world.api.refresh(_integration_form(partner, partner["refreshToken"]))
    assert response.status_code == 200
    assert response.json()["expires_in"] == 60
    assert _mint_with(world, response.json()["access_token"]).status_code == 200


def test_rotating_integration_refresh_tokens(world: World) -> None:
    world.control.set_config(rotateRefreshTokens=True)
    partner = _partner(world)
    old = partner["refreshToken"]
    response = world.api.refresh(_integration_form(partner, old))
    assert response.status_code == 200
    new = response.json()["refresh_token"]
    assert new != old
    assert response.json()["refresh_token_expires_in"] == 90 * 24 * 3600
    reused = world.api.refresh(_integration_form(partner, old))
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    assert_error_body(reused)
    newer = world.api.refresh(_integration_form(partner, new))
    assert newer.status_code == 200
    assert _mint_with(world, newer.json()["access_token"]).status_code == 200
    # Rotation revokes refresh tokens only: earlier access tokens live on.
    assert _mint_with(world, response.json()["access_token"]).status_code == 200
    assert _mint_with(world, partner["accessToken"]).status_code == 200


def test_integration_invalid_grant_and_invalid_client(world: World) -> None:
    partner = _partner(world)
    unknown = world.api.refresh(_integration_form(partner, "nope"))
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_grant"
    assert_error_body(unknown)
    access_as_refresh = world.api.refresh(_integration_form(partner, partner["accessToken"]))
    assert (
        access_as_refresh.status_code == 400
        and access_as_refresh.json()["error"] == "invalid_grant"
    )
    other = _partner(world)
    foreign = world.api.refresh(_integration_form(partner, other["refreshToken"]))
    assert foreign.status_code == 400 and foreign.json()["error"] == "invalid_grant"
    bad_secret = world.api.refresh(
        _integration_form(partner, partner["refreshToken"], client_secret="wrong")
    )
    assert bad_secret.status_code == 401 and bad_secret.json()["error"] == "invalid_client"
    assert_error_body(bad_secret)
    bad_client = world.api.refresh(
        _integration_form(partner, partner["refreshToken"], client_id="Cnobody")
    )
    assert bad_client.status_code == 401 and bad_client.json()["error"] == "invalid_client"
    crossed_secret = world.api.refresh(
        _integration_form(partner, partner["refreshToken"], client_secret=other["clientSecret"])
    )
    assert crossed_secret.status_code == 401
    # Unused for 90 days, the refresh token expires.
    world.control.advance_clock(90 * 24 * 3600 + 5)
    expired = world.api.refresh(_integration_form(partner, partner["refreshToken"]))
    assert expired.status_code == 400 and expired.json()["error"] == "invalid_grant"
    assert_error_body(expired)


def test_service_app_and_integration_refresh_tokens_do_not_mix(world: World) -> None:
    partner = _partner(world)
    app_refresh = world.tokens_a["refresh_token"]
    app_creds_integration_token = world.api.refresh(_refresh_form(world, partner["refreshToken"]))
    assert app_creds_integration_token.status_code == 400
    assert app_creds_integration_token.json()["error"] == "invalid_grant"
    assert_error_body(app_creds_integration_token)
    integration_creds_app_token = world.api.refresh(_integration_form(partner, app_refresh))
    assert integration_creds_app_token.status_code == 400
    assert integration_creds_app_token.json()["error"] == "invalid_grant"
    assert_error_body(integration_creds_app_token)
    # Both still refresh with their own client.
    assert world.api.refresh(_refresh_form(world, app_refresh)).status_code == 200
    assert world.api.refresh(_integration_form(partner, partner["refreshToken"])).status_code == 200
    # An integration client id cannot be reused as a Service App's.
    with pytest.raises(EmulatorError) as taken:
        world.control.create_service_app(
            "Clash", ["byods.example.com"], ALL_SCHEMAS, client_id=partner["clientId"]
        )
    assert taken.value.status_code == 409
