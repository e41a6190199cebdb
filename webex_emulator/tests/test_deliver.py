"""``POST /_emulator/deliver``: the emulator presents a data source's JWS like Webex would."""

from __future__ import annotations

import json
from typing import Any

import pytest

from webex_emulator.testing import EmulatorControl, EmulatorError, LoopbackReceiver, free_port

from .support import World

pytestmark = pytest.mark.slow  # runs against a live emulator process


def _accept(authorization: str | None) -> tuple[int, dict[str, Any]]:
    return 200, {"accepted": True}


def _error(excinfo: pytest.ExceptionInfo[EmulatorError]) -> tuple[int, str]:
    response = excinfo.value.response
    return response.status_code, response.json()["message"]


def test_it_presents_the_current_jws_as_a_bearer_token(world: World) -> None:
    source = world.registered()
    with LoopbackReceiver(_accept) as receiver:
        result = world.control.deliver(source["id"], receiver.url)
    assert result["status"] == 200
    assert json.loads(result["body"]) == {"accepted": True}
    assert result["targetUrl"] == receiver.url
    assert result["nonce"] == source["nonce"]
    (seen,) = receiver.received
    assert seen["authorization"] == f"Bearer {source['jwsToken']}"
    assert json.loads(seen["body"])["dataSourceId"] == source["id"]


def test_it_presents_the_new_jws_after_an_update(world: World) -> None:
    source = world.registered()
    body = world.update_body(source)
    updated = world.api.call("PUT", f"/v1/dataSources/{source['id']}", world.token_a, body).json()
    with LoopbackReceiver(_accept) as receiver:
        result = world.control.deliver(source["id"], receiver.url)
    assert result["nonce"] == body["nonce"]
    assert receiver.received[0]["authorization"] == f"Bearer {updated['jwsToken']}"
    assert updated["jwsToken"] != source["jwsToken"]


def test_it_relays_the_receivers_refusal(world: World) -> None:
    source = world.registered()
    with LoopbackReceiver(lambda auth: (401, {"code": "stale_nonce"})) as receiver:
        result = world.control.deliver(source["id"], receiver.url)
    assert result["status"] == 401
    assert json.loads(result["body"]) == {"code": "stale_nonce"}


@pytest.mark.parametrize(
    "target",
    [
        "http://10.0.0.1/receive",
        "https://byods.example.com/grpc",
        "http://192.168.1.5:8080/",
        "http://127.0.0.1.nip.io/",
        "ftp://127.0.0.1/",
        "http://user@127.0.0.1/",
    ],
)
def test_it_refuses_targets_that_are_not_loopback(world: World, target: str) -> None:
    source = world.registered()
    with pytest.raises(EmulatorError) as excinfo:
        world.control.deliver(source["id"], target)
    status, message = _error(excinfo)
    assert status == 400
    assert message.startswith("targetUrl ")


def test_without_target_url_it_refuses_the_data_source_url_that_is_not_loopback(
    world: World,
) -> None:
    source = world.registered(url="https://byods.example.com/grpc")
    with pytest.raises(EmulatorError) as excinfo:
        world.control.deliver(source["id"])
    status, message = _error(excinfo)
    assert status == 400
    assert "the data source url is not a loopback address" in message


def test_it_accepts_ipv6_and_localhost_loopback_targets(world: World) -> None:
    source = world.registered()
    port = free_port()  # nothing listens: the target passed the check and the connect failed
    for target in (f"http://localhost:{port}/", f"http://[::1]:{port}/"):
        with pytest.raises(EmulatorError) as excinfo:
            world.control.deliver(source["id"], target)
        status, message = _error(excinfo)
        assert status == 502, message
        assert "could not be reached" in message


def test_it_refuses_unknown_or_missing_data_sources(control: EmulatorControl) -> None:
    with pytest.raises(EmulatorError) as excinfo:
        control.deliver("no-such-source", "http://127.0.0.1:9/")
    assert _error(excinfo)[0] == 404
    with pytest.raises(EmulatorError) as excinfo:
        control._call("POST", "/deliver", {})
    assert _error(excinfo) == (400, "dataSourceId is required")


def test_it_does_not_deliver_for_a_disabled_data_source(world: World) -> None:
    source = world.registered()
    body = world.update_body(source, status="disabled", errorMessage="maintenance")
    response = world.api.call("PUT", f"/v1/dataSources/{source['id']}", world.token_a, body)
    assert response.status_code == 200, response.text
    with LoopbackReceiver(_accept) as receiver:
        with pytest.raises(EmulatorError) as excinfo:
            world.control.deliver(source["id"], receiver.url)
        assert receiver.received == []
    assert _error(excinfo)[0] == 409


def test_it_does_not_deliver_an_expired_jws(world: World) -> None:
    source = world.registered(tokenLifetimeMinutes=5)
    world.control.advance_clock(301)
    with LoopbackReceiver(_accept) as receiver:
        with pytest.raises(EmulatorError) as excinfo:
            world.control.deliver(source["id"], receiver.url)
        assert receiver.received == []
    status, message = _error(excinfo)
    assert status == 409
    assert "expired" in message
