"""Fault injection (status, reset, timeout, rate, times) and latency."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from .openapi import assert_conforms, assert_error_body
from .support import World

pytestmark = pytest.mark.slow  # runs against a live emulator process


def test_status_fault_with_retry_after_fires_times_then_stops(world: World) -> None:
    world.control.set_faults(
        [
            {
                "method": "GET",
                "pathRegex": r"^/v1/dataSources/?$",
                "kind": "status",
                "status": 429,
                "retryAfter": 7,
                "times": 2,
            }
        ]
    )
    for _ in range(2):
        response = world.api.call(
            "GET", "/v1/dataSources", world.token_a, headers={"TrackingID": "T-429"}
        )
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "7"
        assert_conforms(response, "GET", "/dataSources/")
        assert assert_error_body(response)["trackingId"] == "T-429"
    assert world.api.call("GET", "/v1/dataSources", world.token_a).status_code == 200
    assert world.register().status_code == 200  # POST does not match the rule
    assert world.control.get_faults()["rules"][0]["hits"] == 2
    faulted = [entry for entry in world.control.requests_log() if entry["fault"]]
    assert [(entry["status"], entry["fault"]) for entry in faulted] == [
        (429, "status"),
        (429, "status"),
    ]


def test_423_gets_a_default_retry_after_and_500_none(world: World) -> None:
    world.control.set_faults(
        [
            {"method": "POST", "pathRegex": "/dataSources$", "kind": "status", "status": 423},
            {"pathRegex": "/dataSources/", "kind": "status", "status": 503},
        ]
    )
    locked = world.register()
    assert locked.status_code == 423
    assert int(locked.headers["Retry-After"]) >= 1
    unavailable = world.api.call("GET", "/v1/dataSources/", world.token_a)
    assert unavailable.status_code == 503
    assert "Retry-After" not in unavailable.headers
    assert_error_body(unavailable)


def test_reset_fault_is_a_connection_error_for_requests(world: World) -> None:
    world.control.set_faults([{"pathRegex": "/dataSources", "kind": "reset", "times": 1}])
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(
            f"{world.base_url}/v1/dataSources",
            headers={"Authorization": f"Bearer {world.token_a}"},
            timeout=5,
        )
    assert world.api.call("GET", "/v1/dataSources", world.token_a).status_code == 200
    (entry,) = world.control.requests_log(path="/v1/dataSources", method="GET")[:1]
    assert entry["fault"] == "reset"
    assert entry["status"] == 0


def test_timeout_fault_holds_the_request(world: World) -> None:
    world.control.set_faults(
        [
            {
                "method": "GET",
                "pathRegex": "dataSources",
                "kind": "timeout",
                "delaySeconds": 1.0,
                "times": 1,
            }
        ]
    )
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(
            f"{world.base_url}/v1/dataSources",
            headers={"Authorization": f"Bearer {world.token_a}"},
            timeout=0.3,
        )
    world.control.set_faults(
        [{"kind": "timeout", "delaySeconds": 0.3, "status": 504, "pathRegex": "dataSources"}]
    )
    started = time.monotonic()
    response = world.api.call("GET", "/v1/dataSources", world.token_a)
    assert response.status_code == 504
    assert time.monotonic() - started >= 0.3
    assert_error_body(response)


def test_a_timeout_fault_applies_a_change_the_client_gave_up_on(world: World) -> None:
    """Webex had the whole request before it stalled: when the client's read timeout ends the
    call first, the change is still made, late (the ambiguous outcome this fault is for)."""
    source = world.registered()
    world.control.set_faults(
        [{"method": "PUT", "pathRegex": "dataSources/", "kind": "timeout", "delaySeconds": 0.5}]
    )
    body = world.update_body(source, nonce="applied-late")
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.put(
            f"{world.base_url}/v1/dataSources/{source['id']}",
            json=body,
            headers={"Authorization": f"Bearer {world.token_a}"},
            timeout=0.2,
        )
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        (put,) = world.control.requests_log(path=source["id"], method="PUT") or [None]
        if put:
            break
        time.sleep(0.05)
    assert (put["fault"], put["status"], put["nonce"]) == ("timeout", 200, "applied-late")
    world.control.clear_faults()
    again = world.api.call("GET", f"/v1/dataSources/{source['id']}", world.token_a)
    assert again.json()["nonce"] == "applied-late"


def test_timeout_uses_the_configured_default_delay(world: World) -> None:
    world.control.set_config(timeoutFaultSeconds=0.4)
    world.control.set_faults([{"kind": "timeout", "pathRegex": "schemas"}])
    started = time.monotonic()
    response = world.api.call("GET", "/v1/dataSources/schemas", world.token_a)
    assert response.status_code == 200  # no status: answered normally, late
    assert 0.4 <= time.monotonic() - started < 5


def test_rate_zero_never_fires_and_rate_half_is_seeded(world: World) -> None:
    world.control.set_faults([{"kind": "status", "status": 500, "rate": 0}])
    assert all(
        world.api.call("GET", "/v1/dataSources", world.token_a).status_code == 200
        for _ in range(10)
    )
    world.control.set_faults([{"kind": "status", "status": 502, "rate": 0.5}], seed=1234)
    statuses = [
        world.api.call("GET", "/v1/dataSources", world.token_a).status_code for _ in range(40)
    ]
    failures = statuses.count(502)
    assert 5 <= failures <= 35
    assert statuses.count(200) == 40 - failures
    assert world.control.get_faults()["rules"][0]["hits"] == failures


def test_faults_never_apply_to_the_control_surface(world: World) -> None:
    world.control.set_faults([{"kind": "status", "status": 500}])
    assert world.control.health()["status"] == "ok"
    assert world.api.call("GET", "/v1/dataSources", world.token_a).status_code == 500
    jwks = world.api.call("GET", "/idb/oauth2/v2/keys/verificationjwk")
    assert jwks.status_code == 500  # /idb is a Webex route
    world.control.clear_faults()
    assert world.api.call("GET", "/v1/dataSources", world.token_a).status_code == 200


@pytest.mark.parametrize(
    "rule",
    [
        {"kind": "explode"},
        {"kind": "status", "status": 200},
        {"kind": "status", "rate": 2},
        {"kind": "status", "pathRegex": "("},
        {"kind": "status", "times": -1},
        "nope",
    ],
)
def test_invalid_fault_rules_are_rejected(world: World, rule: object) -> None:
    response = world.control.session.put(
        f"{world.base_url}/_emulator/faults", json={"rules": [rule]}, timeout=5
    )
    assert response.status_code == 400
    assert_error_body(response)


def test_latency_applies_to_webex_routes_only(world: World) -> None:
    world.control.set_latency(300)
    started = time.monotonic()
    assert world.api.call("GET", "/v1/dataSources", world.token_a).status_code == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    world.control.health()
    assert time.monotonic() - started < 0.25


def test_latency_is_concurrent_not_serial(world: World) -> None:
    world.control.set_latency(400, jitter_ms=20)

    def one(_: int) -> int:
        return requests.get(
            f"{world.base_url}/v1/dataSources",
            headers={"Authorization": f"Bearer {world.token_a}"},
            timeout=10,
        ).status_code

    world.control.reset_stats()
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=40) as pool:
        statuses = list(pool.map(one, range(40)))
    elapsed = time.monotonic() - started
    assert statuses == [200] * 40
    assert 0.38 <= elapsed < 2.0, elapsed
    assert world.control.stats()["peakInFlight"] >= 20
