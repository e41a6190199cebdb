"""A local identity broker for the JWS verifier's tests: our own RSA keys, a JWKS served over
real HTTP on loopback (counting requests, able to fail), and tokens crafted with PyJWT."""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from datasources.jws import CLAIM_ORG, CLAIM_SCHEMA, CLAIM_URL
from webex.jwks import JWKS_PATH


class LocalIssuer:
    """Serves `{issuer}/oauth2/v2/keys/verificationjwk` for `keys` (kid -> private key)."""

    def __init__(self, keys: dict[str, rsa.RSAPrivateKey]) -> None:
        self.keys = dict(keys)
        self.published = set(self.keys)
        self.failing = False
        self.hits = 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                issuer.hits += 1
                if self.path != "/idb" + JWKS_PATH or issuer.failing:
                    self.send_response(500 if issuer.failing else 404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = json.dumps({"keys": issuer.jwks()}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/idb"

    def jwks(self) -> list[dict[str, Any]]:
        items = []
        for kid in sorted(self.published):
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.keys[kid].public_key()))
            items.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return items

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def claims_for(ds, issuer: str, **overrides: Any) -> dict[str, Any]:
    """The claims Webex would put in `ds`'s JWS (README of webex/), valid for an hour."""
    now = int(time.time())
    claims = {
        "aud": ds.audience,
        "sub": ds.subject,
        "iss": issuer,
        "iat": now,
        "exp": now + 3600,
        "jti": ds.nonce,
        CLAIM_URL: ds.url,
        CLAIM_SCHEMA: ds.schema_id,
        CLAIM_ORG: str(ds.org.webex_org_id),
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def sign(claims: dict[str, Any], key: rsa.RSAPrivateKey, kid: str) -> str:
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def random_kid() -> str:
    return str(uuid.uuid4())
