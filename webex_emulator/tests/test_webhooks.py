"""Webhooks CRUD (against the spec) and signed serviceApp deliveries to a local receiver."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from .openapi import assert_conforms, assert_error_body
from .support import World

pytestmark = pytest.mark.slow  # runs against a live emulator process


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data


@dataclass
class Receiver:
    """A tiny HTTP server recording POSTs; ``statuses`` are answered in order, then 200."""

    server: ThreadingHTTPServer
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        raise AssertionError(f"expected {count} deliveries, got {len(self.received)}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    holder: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            recv = holder["receiver"]
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with recv.lock:
                recv.received.append(Received(self.path, dict(self.headers.items()), body))
                status = recv.statuses.pop(0) if recv.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder["receiver"] = Receiver(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield holder["receiver"]
    server.shutdown()
    server.server_close()


def _settled_deliveries(world: World, timeout: float = 5.0) -> list[dict[str, Any]]:
    """The delivery records once none is pending or retrying any more."""
    deadline = time.monotonic() + timeout
    while True:
        deliveries = world.control.webhook_deliveries()
        settled = all(item["state"] in ("delivered", "failed") for item in deliveries)
        if (deliveries and settled) or time.monotonic() > deadline:
            return deliveries
        time.sleep(0.02)


def _create(world: World, token: str, **body: Any) -> dict[str, Any]:
    response = world.api.call("POST", "/v1/webhooks", token, body)
    assert response.status_code == 200, response.text
    assert_conforms(response, "POST", "/webhooks")
    data: dict[str, Any] = response.json()
    return data


def test_webhook_crud_conforms_to_the_spec(world: World) -> None:
    token = world.integration_token
    hook = _create(
        world,
        token,
        name="auth hook",
        targetUrl="https://portal.example.com/hooks/webex",
        resource="serviceApp",
        event="authorized",
        filter=f"id={world.app['applicationId']}",
        secret="s3cret",
    )
    assert base64.b64decode(hook["id"] + "==").decode().startswith("ciscospark://us/WEBHOOK/")
    assert hook["status"] == "active"
    assert hook["secret"] == "s3cret"
    path = f"/v1/webhooks/{hook['id']}"
    got = world.api.call("GET", path, token)
    assert_conforms(got, "GET", "/webhooks/{webhookId}")
    assert got.json() == hook
    listed = world.api.call("GET", "/v1/webhooks", token)
    assert_conforms(listed, "GET", "/webhooks")
    assert [item["id"] for item in listed.json()["items"]] == [hook["id"]]
    updated = world.api.call(
        "PUT", path, token, {"name": "renamed", "targetUrl": "https://portal.example.com/v2"}
    )
    assert updated.status_code == 200
    assert_conforms(updated, "PUT", "/webhooks/{webhookId}")
    assert updated.json()["name"] == "renamed"
    assert updated.json()["secret"] == "s3cret"
    deleted = world.api.call("DELETE", path, token)
    assert deleted.status_code == 204
    assert_conforms(deleted, "DELETE", "/webhooks/{webhookId}")
    missing = world.api.call("GET", path, token)
    assert missing.status_code == 404
    assert_conforms(missing, "GET", "/webhooks/{webhookId}")


def test_webhook_validation(world: World) -> None:
    token = world.integration_token
    response = world.api.call(
        "POST", "/v1/webhooks", token, {"name": "x", "targetUrl": "https://a.example.com"}
    )
    assert response.status_code == 400
    assert_conforms(response, "POST", "/webhooks")
    message = assert_error_body(response)["message"]
    assert "resource" in message and "event" in message
    bad = world.api.call(
        "POST",
        "/v1/webhooks",
        token,
        {"name": "x", "targetUrl": "https://a.example.com", "resource": "cars", "event": "created"},
    )
    assert bad.status_code == 400 and "resource" in bad.json()["message"]
    no_url = world.api.call(
        "POST",
        "/v1/webhooks",
        token,
        {"name": "x", "targetUrl": "nope", "resource": "serviceApp", "event": "authorized"},
    )
    assert no_url.status_code == 400 and "targetUrl" in no_url.json()["message"]
    hook = _create(
        world,
        token,
        name="x",
        targetUrl="https://a.example.com",
        resource="serviceApp",
        event="authorized",
    )
    partial = world.api.call("PUT", f"/v1/webhooks/{hook['id']}", token, {"name": "y"})
    assert partial.status_code == 400 and "targetUrl" in partial.json()["message"]


def test_webhooks_belong_to_their_owner(world: World) -> None:
    hook = _create(
        world,
        world.integration_token,
        name="x",
        targetUrl="https://a.example.com",
        resource="serviceApp",
        event="authorized",
    )
    stranger = world.control.create_integration_token()["accessToken"]
    assert world.api.call("GET", f"/v1/webhooks/{hook['id']}", stranger).status_code == 404
    assert world.api.call("DELETE", f"/v1/webhooks/{hook['id']}", stranger).status_code == 404
    assert world.api.call("GET", "/v1/webhooks", stranger).json()["items"] == []
    assert world.api.call("GET", "/v1/webhooks", world.token_a).json()["items"] == []
    assert world.api.call("GET", "/v1/webhooks", None).status_code == 401


def test_authorization_delivers_a_signed_envelope(world: World, receiver: Receiver) -> None:
    app_id = world.app["applicationId"]
    secret = "correct horse battery staple"
    hook = _create(
        world,
        world.integration_token,
        name="authorized",
        targetUrl=f"{receiver.url}/hooks",
        resource="serviceApp",
        event="authorized",
        filter=f"id={app_id}",
        secret=secret,
    )
    org = world.control.create_org("Umbrella Health", "eu")
    authorization = world.control.authorize(app_id, org["id"])
    (delivery,) = receiver.wait_for(1)
    assert delivery.path == "/hooks"
    expected = hmac.new(secret.encode(), delivery.body, hashlib.sha1).hexdigest()
    assert delivery.headers["X-Spark-Signature"] == expected
    envelope = delivery.json()
    assert envelope["resource"] == "serviceApp"
    assert envelope["event"] == "authorized"
    assert envelope["name"] == "authorized"
    assert envelope["targetUrl"] == hook["targetUrl"]
    assert envelope["filter"] == f"id={app_id}"
    assert envelope["orgId"] == org["webexId"]
    assert envelope["data"]["authorizerOrgId"] == org["id"]
    assert envelope["data"]["orgId"] == org["id"]
    assert envelope["data"]["id"] == app_id
    assert envelope["data"]["authorizationDate"] == authorization["authorizationDate"]
    assert envelope["data"]["validDomains"] == world.app["validDomains"]
    for name in ("id", "createdBy", "appId", "ownedBy", "status", "actorId", "created"):
        assert envelope[name], name
    deliveries = _settled_deliveries(world)
    assert [(d["state"], d["attempts"], d["lastStatus"], d["signed"]) for d in deliveries] == [
        ("delivered", 1, 200, True)
    ]
    assert deliveries[0]["eventId"] == envelope["id"]


def test_deauthorization_fires_and_filters_apply(world: World, receiver: Receiver) -> None:
    app_id = world.app["applicationId"]
    other = world.control.create_service_app("Other", ["byods.example.com"], [])
    token = world.integration_token
    _create(
        world,
        token,
        name="de",
        targetUrl=f"{receiver.url}/de",
        resource="serviceApp",
        event="deauthorized",
    )
    _create(
        world,
        token,
        name="other-app",
        targetUrl=f"{receiver.url}/other",
        resource="serviceApp",
        event="deauthorized",
        filter=f"id={other['applicationId']}",
    )
    world.control.deauthorize(app_id, world.org_a["id"])
    (delivery,) = receiver.wait_for(1)
    time.sleep(0.2)
    assert len(receiver.received) == 1
    assert delivery.path == "/de"
    assert "X-Spark-Signature" not in delivery.headers
    envelope = delivery.json()
    assert envelope["event"] == "deauthorized"
    assert envelope["data"]["authorizerOrgId"] == world.org_a["id"]
    assert "filter" not in envelope


def test_failed_deliveries_are_retried_then_recorded(world: World, receiver: Receiver) -> None:
    world.control.set_config(webhookRetryBaseSeconds=0.05, webhookMaxAttempts=3)
    receiver.statuses = [500, 503]
    _create(
        world,
        world.integration_token,
        name="flaky",
        targetUrl=f"{receiver.url}/flaky",
        resource="serviceApp",
        event="authorized",
        secret="k",
    )
    org = world.control.create_org("Umbrella Health")
    world.control.authorize(world.app["applicationId"], org["id"])
    received = receiver.wait_for(3)
    assert len({item.json()["id"] for item in received}) == 1  # same event id on every retry
    assert len({item.body for item in received}) == 1
    (delivery,) = _settled_deliveries(world)
    assert delivery["state"] == "delivered"
    assert delivery["attempts"] == 3
    assert [item["status"] for item in delivery["attemptLog"]] == [500, 503, 200]


def test_unreachable_target_fails_after_max_attempts(world: World) -> None:
    world.control.set_config(webhookRetryBaseSeconds=0.01, webhookMaxAttempts=2)
    _create(
        world,
        world.integration_token,
        name="dead",
        targetUrl="http://127.0.0.1:9/nowhere",
        resource="serviceApp",
        event="authorized",
    )
    org = world.control.create_org("Umbrella Health")
    world.control.authorize(world.app["applicationId"], org["id"])
    (delivery,) = _settled_deliveries(world)
    assert delivery["state"] == "failed"
    assert delivery["attempts"] == 2
    assert delivery["lastStatus"] is None
    assert delivery["lastError"]
