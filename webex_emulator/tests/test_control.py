"""The control surface: request log, state, reset, demo seed, --db persistence, isolation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from webex_emulator.testing import EmulatorControl, EmulatorError, EmulatorProcess

from .openapi import assert_error_body
from .support import ALL_SCHEMAS, Api, World

pytestmark = pytest.mark.slow  # runs against a live emulator process

PACKAGE_DIR = Path(__file__).resolve().parent.parent


def test_request_log_records_calls_and_filters(world: World) -> None:
    world.control.clear_requests_log()
    source = world.registered()
    world.api.call("GET", f"/v1/dataSources/{source['id']}", world.token_b)
    world.api.call("GET", "/v1/dataSources", world.token_a, headers={"TrackingID": "T-list"})
    log = world.control.requests_log()
    assert [(entry["method"], entry["path"], entry["status"]) for entry in log] == [
        ("POST", "/v1/dataSources", 200),
        ("GET", f"/v1/dataSources/{source['id']}", 404),
        ("GET", "/v1/dataSources", 200),
    ]
    register = log[0]
    assert register["orgId"] == world.org_a["id"]
    assert register["nonce"] == source["nonce"]
    assert register["dataSourceId"] == source["id"]
    assert register["trackingId"].startswith("EMULATOR_")
    assert register["time"].endswith("Z")
    assert log[1]["orgId"] == world.org_b["id"]
    assert log[2]["trackingId"] == "T-list"
    assert len(world.control.requests_log(method="post")) == 1
    assert len(world.control.requests_log(org_id=world.org_b["id"])) == 1
    assert len(world.control.requests_log(org_id=world.org_a["webexId"])) == 2
    assert len(world.control.requests_log(path=source["id"])) == 1
    assert len(world.control.requests_log(path="/v1/dataSources")) == 3
    world.control.clear_requests_log()
    assert world.control.requests_log() == []


def test_state_has_everything_including_the_nonce_history(world: World) -> None:
    source = world.registered()
    nonces = [source["nonce"]]
    current = source
    for _ in range(2):
        body = world.update_body(current)
        current = world.api.call(
            "PUT", f"/v1/dataSources/{source['id']}", world.token_a, body
        ).json()
        nonces.append(body["nonce"])
    state = world.control.state()
    (app,) = state["serviceApps"]
    assert app["clientSecret"] == world.app["clientSecret"]
    assert {org["id"] for org in state["orgs"]} == {world.org_a["id"], world.org_b["id"]}
    assert len([a for a in state["authorizations"] if a["active"]]) == 2
    (stored,) = state["dataSources"]
    assert stored["nonceHistory"] == nonces
    assert [entry["nonce"] for entry in state["nonceHistory"]] == nonces
    assert [entry["operation"] for entry in state["nonceHistory"]] == [
        "register",
        "update",
        "update",
    ]
    kinds = sorted(token["kind"] for token in state["tokens"])
    assert kinds == ["access", "access", "integration", "refresh", "refresh"]
    assert world.token_a in {token["token"] for token in state["tokens"]}
    # The history outlives the data source.
    world.api.call("DELETE", f"/v1/dataSources/{source['id']}", world.token_a)
    after = world.control.state()
    assert after["dataSources"] == []
    assert [entry["nonce"] for entry in after["nonceHistory"]] == nonces


def test_reset_wipes_and_can_seed_the_demo_world(world: World) -> None:
    world.registered()
    world.control.reset()
    empty = world.control.state()
    assert empty["serviceApps"] == [] and empty["dataSources"] == [] and empty["tokens"] == []
    assert world.api.call("GET", "/v1/dataSources", world.token_a).status_code == 401
    world.control.reset(seed_demo=True)
    state = world.control.state()
    (app,) = state["serviceApps"]
    assert app["name"] == "Acme Contact Center Analytics"
    assert app["validDomains"] == ["byods.example.com"]
    assert app["dataSourceSchemaIds"] == ALL_SCHEMAS
    assert [org["name"] for org in state["orgs"]] == [
        "Globex Retail",
        "Initech Insurance",
        "Umbrella Health",
    ]
    authorized = {a["orgId"] for a in state["authorizations"] if a["active"]}
    assert authorized == {state["orgs"][0]["id"], state["orgs"][1]["id"]}
    (integration,) = [token for token in state["tokens"] if token["kind"] == "integration"]
    assert integration["scopes"] == ["spark:applications_token"]
    minted = Api(world.base_url).app_token(
        integration["token"],
        app["applicationId"],
        {
            "clientId": app["clientId"],
            "clientSecret": app["clientSecret"],
            "targetOrgId": state["orgs"][0]["webexId"],
        },
    )
    assert minted.status_code == 200
    refused = Api(world.base_url).app_token(
        integration["token"],
        app["applicationId"],
        {
            "clientId": app["clientId"],
            "clientSecret": app["clientSecret"],
            "targetOrgId": state["orgs"][2]["webexId"],
        },
    )
    assert refused.status_code == 403


def test_control_validation_errors(control: EmulatorControl) -> None:
    with pytest.raises(EmulatorError) as wildcard:
        control.create_service_app("Bad", ["*.com"], ALL_SCHEMAS)
    assert wildcard.value.status_code == 400
    assert_error_body(wildcard.value.response)
    with pytest.raises(EmulatorError) as schema:
        control.create_service_app("Bad", ["example.com"], ["not-a-schema"])
    assert schema.value.status_code == 400
    with pytest.raises(EmulatorError) as unknown_app:
        control.authorize(
            "Y2lzY29zcGFyazovL3VzL0FQUExJQ0FUSU9OL0Nub3Bl", "00000000-0000-0000-0000-000000000000"
        )
    assert unknown_app.value.status_code == 404
    with pytest.raises(EmulatorError) as config:
        control.set_config(rotateRefreshTokens="yes")
    assert config.value.status_code == 400
    with pytest.raises(EmulatorError) as unknown_field:
        control.set_config(noSuchSetting=1)
    assert unknown_field.value.status_code == 400


def test_deauthorizing_twice_is_404(world: World) -> None:
    world.control.deauthorize(world.app["applicationId"], world.org_a["id"])
    with pytest.raises(EmulatorError) as again:
        world.control.deauthorize(world.app["applicationId"], world.org_a["id"])
    assert again.value.status_code == 404


def test_db_persists_the_demo_world_and_keys_across_restarts(tmp_path: Path) -> None:
    db = str(tmp_path / "emulator.sqlite3")
    with EmulatorProcess(["--db", db, "--seed-demo"]) as first:
        state = first.control.state()
        app = state["serviceApps"][0]
        integration = next(t for t in state["tokens"] if t["kind"] == "integration")["token"]
        api = Api(first.base_url)
        org = state["orgs"][0]
        token = api.app_token(
            integration,
            app["applicationId"],
            {
                "clientId": app["clientId"],
                "clientSecret": app["clientSecret"],
                "targetOrgId": org["id"],
            },
        ).json()["access_token"]
        source = api.call(
            "POST",
            "/v1/dataSources",
            token,
            {
                "schemaId": ALL_SCHEMAS[0],
                "url": "https://byods.example.com/x",
                "audience": "a",
                "subject": "s",
                "nonce": "n1",
                "tokenLifetimeMinutes": 5,
            },
        ).json()
        first.control.advance_clock(120)
        kid = first.control.state()["keys"]["kid"]
    with EmulatorProcess(["--db", db, "--seed-demo"]) as second:
        again = second.control.state()
        assert [a["clientId"] for a in again["serviceApps"]] == [app["clientId"]]  # not re-seeded
        assert len(again["orgs"]) == 3
        assert again["keys"]["kid"] == kid
        assert again["clock"]["offsetSeconds"] == pytest.approx(120)
        got = Api(second.base_url).call("GET", f"/v1/dataSources/{source['id']}", token)
        assert got.status_code == 200
        assert got.json()["jwsToken"] == source["jwsToken"]


def test_emulator_process_reports_startup_failures() -> None:
    with pytest.raises(RuntimeError) as failure:
        EmulatorProcess(["--latency-ms", "-1"], startup_timeout=10).start()
    assert "latency" in str(failure.value)


def test_the_emulator_never_imports_django() -> None:
    code = (
        "import sys, webex_emulator.app, webex_emulator.testing, webex_emulator.__main__;"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'django'], 'django imported'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=PACKAGE_DIR.parent, check=True, timeout=30)
    framework = "dj" + "ango"  # spelled so this file does not match itself
    for path in PACKAGE_DIR.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert f"import {framework}" not in text and f"from {framework}" not in text, path


def test_health_and_control_not_found(control: EmulatorControl) -> None:
    assert control.health()["status"] == "ok"
    response = requests.get(f"{control.base_url}/_emulator/nothing", timeout=5)
    assert response.status_code == 404
    assert_error_body(response)
