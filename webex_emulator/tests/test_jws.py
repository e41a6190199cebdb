"""The data source JWS verified with PyJWT against the JWKS; key rotation; the clock."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest

from .support import SCHEMA_VVA, World

pytestmark = pytest.mark.slow  # runs against a live emulator process

JWKS_PATH = "/idb/oauth2/v2/keys/verificationjwk"


def _jwks(world: World) -> dict[str, Any]:
    response = world.api.call("GET", JWKS_PATH)
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data


def _verify(world: World, token: str, audience: str) -> dict[str, Any]:
    kid = jwt.get_unverified_header(token)["kid"]
    (jwk,) = [key for key in _jwks(world)["keys"] if key["kid"] == kid]
    key = jwt.PyJWK(jwk).key
    claims: dict[str, Any] = jwt.decode(
        token,
        key,
        algorithms=["RS256"],
        audience=audience,
        issuer=f"{world.base_url}/idb",
        options={"require": ["aud", "sub", "jti", "exp", "iat", "iss"]},
    )
    return claims


def test_jwks_shape(world: World) -> None:
    keys = _jwks(world)["keys"]
    assert len(keys) >= 1
    for key in keys:
        assert set(key) == {"kty", "e", "n", "kid", "use", "alg"}
        assert (key["kty"], key["use"], key["alg"], key["e"]) == ("RSA", "sig", "RS256", "AQAB")


def test_jws_verifies_with_pyjwt_and_carries_the_webex_claims(world: World) -> None:
    source = world.registered(
        url="https://byods.example.com:8443/va",
        audience="AcmeVA",
        subject="vva",
        tokenLifetimeMinutes=45,
    )
    header_segment = source["jwsToken"].split(".")[0]
    header = json.loads(base64.urlsafe_b64decode(header_segment + "=" * (-len(header_segment) % 4)))
    assert list(header) == ["kid", "typ", "alg"]
    assert header["typ"] == "JWT" and header["alg"] == "RS256"
    claims = _verify(world, source["jwsToken"], "AcmeVA")
    assert claims["sub"] == "vva"
    assert claims["iss"] == f"{world.base_url}/idb"
    assert claims["jti"] == source["nonce"]
    assert claims["exp"] - claims["iat"] == 45 * 60
    assert claims["com.cisco.datasource.url"] == "https://byods.example.com:8443/va"
    assert claims["com.cisco.datasource.schema.uuid"] == SCHEMA_VVA
    assert claims["com.cisco.org.uuid"] == world.org_a["id"]
    expiry = datetime.fromtimestamp(claims["exp"], tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert source["tokenExpiryTime"] == expiry
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(
            source["jwsToken"],
            jwt.PyJWK(_jwks(world)["keys"][0]).key,
            algorithms=["RS256"],
            audience="someone-else",
        )


def test_update_jws_uses_the_new_nonce_as_jti(world: World) -> None:
    source = world.registered()
    body = world.update_body(source, tokenLifetimeMinutes=1440)
    updated = world.api.call("PUT", f"/v1/dataSources/{source['id']}", world.token_a, body).json()
    claims = _verify(world, updated["jwsToken"], updated["audience"])
    assert claims["jti"] == body["nonce"]
    assert claims["exp"] - claims["iat"] == 1440 * 60


def test_key_rotation_keeps_the_previous_key_published(world: World) -> None:
    before = world.registered()
    old_kid = jwt.get_unverified_header(before["jwsToken"])["kid"]
    rotated = world.control.rotate_keys()
    assert rotated["previousKid"] == old_kid
    new_kid = rotated["kid"]
    assert new_kid != old_kid
    assert {key["kid"] for key in _jwks(world)["keys"]} == {old_kid, new_kid}
    after = world.registered()
    assert jwt.get_unverified_header(after["jwsToken"])["kid"] == new_kid
    assert _verify(world, before["jwsToken"], before["audience"])["jti"] == before["nonce"]
    assert _verify(world, after["jwsToken"], after["audience"])["jti"] == after["nonce"]
    # A second rotation retires the oldest key.
    third = world.control.rotate_keys()["kid"]
    assert {key["kid"] for key in _jwks(world)["keys"]} == {new_kid, third}


def test_clock_advance_moves_iat_and_expires_the_jws(world: World) -> None:
    first = world.registered(tokenLifetimeMinutes=10)
    iat_first = jwt.decode(first["jwsToken"], options={"verify_signature": False})["iat"]
    clock = world.control.advance_clock(3600)
    assert clock["offsetSeconds"] >= 3600
    assert world.control.clock()["offsetSeconds"] == clock["offsetSeconds"]
    second = world.registered(tokenLifetimeMinutes=10)
    iat_second = jwt.decode(second["jwsToken"], options={"verify_signature": False})["iat"]
    assert 3600 <= iat_second - iat_first <= 3605
    # By the emulator's clock the first JWS has expired (10 minutes, and an hour went by).
    exp_first = jwt.decode(first["jwsToken"], options={"verify_signature": False})["exp"]
    assert exp_first < world.control.clock()["epochSeconds"]


def test_issuer_follows_the_host_the_client_used(world: World) -> None:
    source = world.registered()
    localhost = world.base_url.replace("127.0.0.1", "localhost")
    response = world.api.call("GET", f"{localhost}/v1/dataSources/{source['id']}", world.token_a)
    assert response.json()["jwsToken"] == source["jwsToken"]  # GET does not re-sign
    updated = world.api.call(
        "PUT",
        f"{localhost}/v1/dataSources/{source['id']}",
        world.token_a,
        world.update_body(source),
    ).json()
    claims = jwt.decode(updated["jwsToken"], options={"verify_signature": False})
    assert claims["iss"] == f"{localhost}/idb"
