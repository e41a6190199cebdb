"""Fetch an identity broker's JWKS: the public keys that verify the JWS Webex presents.

`webex/` is the one place that speaks HTTP to Webex, so the verifier (`datasources.jws`) asks
this module for keys and never opens a connection itself. The fetch uses the process-wide pooled
session with connect/read timeouts, never follows redirects (a key set must come from the URL
derived from an allow-listed issuer, not from wherever that URL points) and returns parsed key
objects, so a verification never re-parses a JWK.
"""

from __future__ import annotations

import json
import logging
import time

import requests
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt.algorithms import RSAAlgorithm
from jwt.exceptions import InvalidKeyError

from .client import TRANSPORT_ERRORS, shared_session

logger = logging.getLogger("webex.jwks")

JWKS_PATH = "/oauth2/v2/keys/verificationjwk"
MAX_JWKS_BYTES = 256 * 1024  # a real key set is a few KB; refuse anything absurd


class JwksFetchError(Exception):
    """The key set could not be fetched or parsed; the message names the URL and the cause."""


def jwks_url(issuer: str) -> str:
    """Where an issuer publishes its verification keys (README, "The JWS that Webex presents")."""
    return issuer.rstrip("/") + JWKS_PATH


def jwks_fetch(
    *, url: str, connect_timeout: float = 3.0, read_timeout: float = 5.0
) -> dict[str, RSAPublicKey]:
    """GET the JWKS at `url` and return its RS256 signing keys by `kid`.

    Keys that are not RSA, are marked for another use or algorithm, or lack a `kid` are
    skipped: the verifier pins RS256 and selects keys by `kid` only.
    """
    started = time.monotonic()
    try:
        response = shared_session().get(
            url,
            timeout=(connect_timeout, read_timeout),
            allow_redirects=False,
            headers={"Accept": "application/json"},
        )
    except TRANSPORT_ERRORS as exc:
        raise JwksFetchError(f"GET {url}: {type(exc).__name__}") from exc
    logger.info(
        "jwks fetch %s -> %s in %.0f ms",
        url,
        response.status_code,
        (time.monotonic() - started) * 1000,
    )
    if response.status_code != 200:
        raise JwksFetchError(f"GET {url}: HTTP {response.status_code}")
    if len(response.content) > MAX_JWKS_BYTES:
        raise JwksFetchError(f"GET {url}: key set larger than {MAX_JWKS_BYTES} bytes")
    try:
        document = response.json()
    except (ValueError, requests.exceptions.JSONDecodeError) as exc:
        raise JwksFetchError(f"GET {url}: body is not JSON") from exc
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise JwksFetchError(f"GET {url}: no 'keys' list")
    return jwks_parse(document["keys"])


def jwks_parse(keys: list) -> dict[str, RSAPublicKey]:
    """Parsed RSA public keys by `kid` from a JWKS `keys` list (unusable entries skipped)."""
    parsed: dict[str, RSAPublicKey] = {}
    for jwk in keys:
        if not isinstance(jwk, dict) or jwk.get("kty") != "RSA":
            continue
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not kid:
            continue
        if jwk.get("use", "sig") != "sig" or jwk.get("alg", "RS256") != "RS256":
            continue
        try:
            key = RSAAlgorithm.from_jwk(json.dumps(jwk))
        except (InvalidKeyError, ValueError, TypeError):
            logger.warning("jwks: skipping malformed key %s", kid)
            continue
        if isinstance(key, RSAPublicKey):
            parsed[kid] = key
    return parsed
