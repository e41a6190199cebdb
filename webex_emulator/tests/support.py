"""Shared test helpers: a small Webex API client and a ready-made world."""

from __future__ import annotations

import base64
import hashlib
import itertools
import uuid
from dataclasses import dataclass, field
from typing import Any

import requests

from webex_emulator.testing import EmulatorControl

SCHEMA_MEDIA = "1b2b7077-dbcd-4732-b2f9-296f9168168a"
SCHEMA_AUDIO = "523e1b7f-4693-47bc-b84e-a7b7a505fb0b"
SCHEMA_VVA = "5397013b-7920-4ffc-807c-e8a3e0a18f43"
SCHEMA_VVA_WS = "a38a10b7-43e4-4676-a076-a7d6dce9387d"
ALL_SCHEMAS = [SCHEMA_MEDIA, SCHEMA_AUDIO, SCHEMA_VVA, SCHEMA_VVA_WS]
DOMAINS = ["byods.example.com", "cisco.com"]
TIMEOUT = 10

_nonces = itertools.count(1)


def new_nonce() -> str:
    return f"nonce-{next(_nonces)}-{uuid.uuid4().hex[:8]}"


def org_webex_id(org_uuid: str) -> str:
    return (
        base64.b64encode(f"ciscospark://us/ORGANIZATION/{org_uuid}".encode()).decode().rstrip("=")
    )


def app_id_variants(client_id: str) -> dict[str, str]:
    raw = f"ciscospark://us/APPLICATION/{client_id}".encode()
    return {
        "standard": base64.b64encode(raw).decode(),
        "urlsafe_unpadded": base64.urlsafe_b64encode(raw).decode().rstrip("="),
    }


def client_id_with_slash() -> str:
    """A client id whose applicationId differs between standard base64 (with '+' or '/', and
    '=' padding) and unpadded base64url. Real ``C<hex>`` ids never produce '+' or '/', so the
    id uses '~' and '?', which do."""
    for index in range(10_000):
        digest = hashlib.sha256(str(index).encode()).hexdigest()
        candidate = "C" + "".join(
            "?~"[int(ch, 16) % 2] if ch in "abc" else ch for ch in digest[:63]
        )
        variants = app_id_variants(candidate)
        standard = variants["standard"]
        if "/" in standard and "+" in standard and standard.endswith("="):
            return candidate
    raise AssertionError("no such client id")


class Api:
    """``requests`` against ``/v1`` with a bearer token."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()

    def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        json: Any = None,
        **kwargs: Any,
    ) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        kwargs.setdefault("timeout", TIMEOUT)
        return self.session.request(method, url, headers=headers, json=json, **kwargs)

    def app_token(
        self, integration_token: str, application_id: str, body: dict[str, Any]
    ) -> requests.Response:
        return self.call(
            "POST", f"/v1/applications/{application_id}/token", integration_token, body
        )

    def refresh(self, form: dict[str, str]) -> requests.Response:
        return self.call("POST", "/v1/access_token", data=form)


@dataclass
class World:
    """One Service App authorized by orgs A and B, with tokens for both and the partner's token."""

    base_url: str
    control: EmulatorControl
    api: Api
    app: dict[str, Any]
    org_a: dict[str, Any]
    org_b: dict[str, Any]
    integration_token: str
    tokens_a: dict[str, Any]
    tokens_b: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def token_a(self) -> str:
        return str(self.tokens_a["access_token"])

    @property
    def token_b(self) -> str:
        return str(self.tokens_b["access_token"])

    def mint(self, org: dict[str, Any], app: dict[str, Any] | None = None) -> dict[str, Any]:
        app = app or self.app
        response = self.api.app_token(
            self.integration_token,
            app["applicationId"],
            {
                "clientId": app["clientId"],
                "clientSecret": app["clientSecret"],
                "targetOrgId": org["webexId"],
            },
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def payload(self, **overrides: Any) -> dict[str, Any]:
        body = {
            "schemaId": SCHEMA_VVA,
            "url": "https://byods.example.com/grpc",
            "audience": "AcmeAnalytics",
            "subject": "voiceVirtualAgent",
            "nonce": new_nonce(),
            "tokenLifetimeMinutes": 60,
        }
        body.update(overrides)
        return body

    def register(self, token: str | None = None, **overrides: Any) -> requests.Response:
        return self.api.call(
            "POST", "/v1/dataSources", token or self.token_a, self.payload(**overrides)
        )

    def registered(self, token: str | None = None, **overrides: Any) -> dict[str, Any]:
        response = self.register(token, **overrides)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def update_body(self, source: dict[str, Any], **overrides: Any) -> dict[str, Any]:
        body = {
            name: source[name]
            for name in (
                "schemaId",
                "url",
                "audience",
                "subject",
                "tokenLifetimeMinutes",
                "status",
                "errorMessage",
            )
        }
        body["nonce"] = new_nonce()
        body.update(overrides)
        return body


def build_world(base_url: str, control: EmulatorControl) -> World:
    api = Api(base_url)
    app = control.create_service_app("Acme Contact Center Analytics", DOMAINS, ALL_SCHEMAS)
    org_a = control.create_org("Globex Retail")
    org_b = control.create_org("Initech Insurance")
    control.authorize(app["applicationId"], org_a["id"])
    control.authorize(app["applicationId"], org_b["id"])
    integration = control.create_integration_token(["spark:applications_token"])
    world = World(base_url, control, api, app, org_a, org_b, integration["accessToken"], {}, {})
    world.tokens_a = world.mint(org_a)
    world.tokens_b = world.mint(org_b)
    return world
