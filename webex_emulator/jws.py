"""Signing keys, the JWKS, and the data source JWS.

Webex signs the token it later presents to a data source URL with RS256 and publishes the public
keys at ``{iss}/oauth2/v2/keys/verificationjwk``. The emulator does the same with its own keys:

* the issuer is ``<emulator base url>/idb`` (the request's scheme and host, or ``--public-url``),
  so ``http://127.0.0.1:8900/idb`` serves ``/idb/oauth2/v2/keys/verificationjwk``;
* the JWS header is exactly ``{"kid": ..., "typ": "JWT", "alg": "RS256"}`` in that order (as in
  Webex's samples), so the token is assembled by hand rather than with PyJWT's encoder;
* the JWKS holds the current key and the previous one, so a verifier that cached a token signed
  before ``POST /_emulator/keys/rotate`` still finds its ``kid``.

Keys are 2048-bit RSA and are stored (PEM) in the state database, so a ``--db`` world keeps
verifying after a restart.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from . import ids
from .state import Store


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_b64url(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey

    def jwk(self) -> dict[str, str]:
        numbers = self.private_key.public_key().public_numbers()
        return {
            "kty": "RSA",
            "e": _int_b64url(numbers.e),
            "n": _int_b64url(numbers.n),
            "kid": self.kid,
            "use": "sig",
            "alg": "RS256",
        }


class KeyRing:
    """The current signing key and the previous one, backed by the store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.current: SigningKey
        self.previous: SigningKey | None = None
        self.reload()

    def reload(self) -> None:
        """Load keys from the store, creating the first key if there is none."""
        rows = {row.role: row for row in self.store.signing_keys() if row.role != "retired"}
        if "current" not in rows:
            self.rotate()
            return
        self.current = self._load(rows["current"].kid, rows["current"].private_pem)
        previous = rows.get("previous")
        self.previous = None if previous is None else self._load(previous.kid, previous.private_pem)

    @staticmethod
    def _load(kid: str, pem: str) -> SigningKey:
        key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return SigningKey(kid=kid, private_key=key)

    def rotate(self) -> SigningKey:
        """Start signing with a fresh key; the old current key stays published as previous."""
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")
        kid = ids.new_uuid()
        self.store.add_signing_key(kid, pem)
        self.reload()
        return self.current

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        keys = [self.current.jwk()]
        if self.previous is not None:
            keys.append(self.previous.jwk())
        return {"keys": keys}

    def sign(self, claims: dict[str, Any]) -> str:
        """Compact RS256 JWS of ``claims`` with the current key."""
        header = {"kid": self.current.kid, "typ": "JWT", "alg": "RS256"}
        signing_input = (
            b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        signature = self.current.private_key.sign(
            signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
        )
        return signing_input + "." + b64url(signature)


def data_source_claims(
    *,
    issuer: str,
    audience: str,
    subject: str,
    nonce: str,
    url: str,
    schema_id: str,
    org_id: str,
    issued_at: int,
    lifetime_minutes: int,
) -> dict[str, Any]:
    """The claims Webex puts in a data source JWS (README, "The JWS that Webex presents").

    ``jti`` is the nonce the partner sent; ``exp - iat`` is exactly ``tokenLifetimeMinutes * 60``.
    """
    return {
        "aud": audience,
        "sub": subject,
        "iss": issuer,
        "iat": issued_at,
        "exp": issued_at + lifetime_minutes * 60,
        "jti": nonce,
        "com.cisco.datasource.url": url,
        "com.cisco.datasource.schema.uuid": schema_id,
        "com.cisco.org.uuid": org_id,
    }
