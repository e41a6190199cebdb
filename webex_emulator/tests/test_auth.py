"""Bearer rules: 401 unknown/expired, 403 deauthorized/wrong kind or scope, org isolation."""

from __future__ import annotations

import pytest

from .openapi import assert_conforms, assert_error_body
from .support import SCHEMA_VVA, World

pytestmark = pytest.mark.slow  # runs against a live emulator process


@pytest.mark.parametrize(
    "header", [None, "Bearer", "Bearer nope", "Basic abc", "bearer unknown_PF84_x"]
)
def test_missing_or_unknown_token_is_401(world: World, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = world.api.call("GET", "/v1/dataSources/", headers=headers)
    assert response.status_code == 401
    assert_conforms(response, "GET", "/dataSources/")


def test_expired_access_token_is_401(world: World) -> None:
    assert world.api.call("GET", "/v1/dataSources", world.token_a).status_code == 200
    world.control.advance_clock(14 * 24 * 3600 + 1)
    response = world.api.call("GET", "/v1/dataSources", world.token_a)
    assert response.status_code == 401
    assert "expired" in assert_error_body(response)["message"]


def test_deauthorized_org_token_is_403_then_401_after_reauthorization(world: World) -> None:
    created = world.registered()
    world.control.deauthorize(world.app["applicationId"], world.org_a["id"])
    for method, path in (("GET", "/v1/dataSources"), ("GET", f"/v1/dataSources/{created['id']}")):
        response = world.api.call(method, path, world.token_a)
        assert response.status_code == 403
        assert_error_body(response)
    assert world.register().status_code == 403
    # Org B is unaffected.
    assert world.api.call("GET", "/v1/dataSources", world.token_b).status_code == 200
    # Reauthorizing does not resurrect revoked tokens; a new one works.
    world.control.authorize(world.app["applicationId"], world.org_a["id"])
    assert world.api.call("GET", "/v1/dataSources", world.token_a).status_code == 401
    fresh = world.mint(world.org_a)["access_token"]
    listed = world.api.call("GET", "/v1/dataSources", fresh).json()["items"]
    assert [item["id"] for item in listed] == [created["id"]]


def test_an_org_never_sees_or_touches_another_orgs_data_sources(world: World) -> None:
    mine = world.registered(world.token_a)
    theirs = world.registered(world.token_b, url="https://b.byods.example.com/")
    path = f"/v1/dataSources/{mine['id']}"
    assert world.api.call("GET", path, world.token_b).status_code == 404
    put = world.api.call("PUT", path, world.token_b, world.update_body(mine))
    assert put.status_code == 404
    assert_conforms(put, "PUT", "/dataSources/{dataSourceId}")
    assert world.api.call("DELETE", path, world.token_b).status_code == 404
    listed_b = world.api.call("GET", "/v1/dataSources", world.token_b).json()["items"]
    assert [item["id"] for item in listed_b] == [theirs["id"]]
    listed_a = world.api.call("GET", "/v1/dataSources", world.token_a).json()["items"]
    assert [item["id"] for item in listed_a] == [mine["id"]]
    assert world.api.call("GET", path, world.token_a).json()["nonce"] == mine["nonce"]


def test_another_app_in_the_same_org_cannot_see_the_source(world: World) -> None:
    mine = world.registered()
    other = world.control.create_service_app("Other", ["byods.example.com"], [SCHEMA_VVA])
    world.control.authorize(other["applicationId"], world.org_a["id"])
    token = world.mint(world.org_a, other)["access_token"]
    assert world.api.call("GET", f"/v1/dataSources/{mine['id']}", token).status_code == 404
    assert world.api.call("GET", "/v1/dataSources", token).json()["items"] == []


def test_integration_token_cannot_use_data_sources_but_reads_schemas(world: World) -> None:
    response = world.api.call("GET", "/v1/dataSources", world.integration_token)
    assert response.status_code == 403
    assert_error_body(response)
    assert (
        world.api.call("GET", "/v1/dataSources/schemas", world.integration_token).status_code == 200
    )


def test_read_only_app_cannot_write(world: World) -> None:
    app = world.control.create_service_app(
        "Reader", ["byods.example.com"], [SCHEMA_VVA], scopes=["spark-admin:datasource_read"]
    )
    world.control.authorize(app["applicationId"], world.org_a["id"])
    token = world.mint(world.org_a, app)["access_token"]
    assert world.api.call("GET", "/v1/dataSources", token).status_code == 200
    response = world.register(token)
    assert response.status_code == 403
    assert "datasource_write" in assert_error_body(response)["message"]


def test_tracking_id_is_echoed_or_generated_on_every_response(world: World) -> None:
    echoed = world.api.call(
        "GET", "/v1/dataSources", "bad", headers={"TrackingID": "PORTAL_abc_123"}
    )
    assert echoed.headers["trackingId"] == "PORTAL_abc_123"
    assert echoed.json()["trackingId"] == "PORTAL_abc_123"
    ok = world.api.call(
        "GET", "/v1/dataSources", world.token_a, headers={"TrackingID": "PORTAL_ok"}
    )
    assert ok.headers["trackingId"] == "PORTAL_ok"
    generated = world.api.call("GET", "/v1/dataSources", world.token_a)
    assert generated.headers["trackingId"].startswith("EMULATOR_")
    assert world.control.session.get(f"{world.base_url}/_emulator/health").headers["trackingId"]


def test_unknown_route_is_404_and_wrong_method_is_405_with_webex_body(world: World) -> None:
    unknown = world.api.call("GET", "/v1/nothingHere", world.token_a)
    assert unknown.status_code == 404
    assert_error_body(unknown)
    wrong = world.api.call("PATCH", "/v1/dataSources", world.token_a, {})
    assert wrong.status_code == 405
    assert_error_body(wrong)
    assert "POST" in wrong.headers["Allow"]
    token_get = world.api.call(
        "GET", f"/v1/applications/{world.app['applicationId']}/token", world.integration_token
    )
    assert token_get.status_code == 405
    assert_error_body(token_get)
