"""The checks, in the order the package docstring lists them, and the API's answer."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
import time
import uuid
from collections import Counter
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from django.conf import settings

from tenants.models import CustomerOrg

from ..models import DataSource
from .candidates import _Candidate, datasource_cache
from .codes import (
    _COMPACT,
    CLAIM_ORG,
    CLAIM_SCHEMA,
    CLAIM_URL,
    MAX_TOKEN_LENGTH,
    Code,
    Refusal,
    Verified,
)
from .keys import _issuers_cache, allowed_issuers, jwks_cache

logger = logging.getLogger("datasources.jws")

_counts: Counter[str] = Counter()
_counts_lock = threading.Lock()


def _count(outcome: str) -> None:
    with _counts_lock:
        _counts[outcome] += 1


def jws_counters() -> dict[str, int]:
    """Outcomes since the process started: "accepted" and one entry per refusal code."""
    with _counts_lock:
        return dict(_counts)


def jws_caches_clear() -> None:
    """Forget cached keys, data sources and issuers (tests, and after a configuration change)."""
    jwks_cache.clear()
    datasource_cache.clear()
    _issuers_cache.clear()


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _json_segment(segment: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64decode(segment))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise Refusal(Code.MALFORMED, f"the {what} is not base64url-encoded JSON") from None
    if not isinstance(value, dict):
        raise Refusal(Code.MALFORMED, f"the {what} is not a JSON object")
    return value


def _bare(token: str) -> str:
    if not isinstance(token, str):
        raise Refusal(Code.MALFORMED, "the token must be a string")
    token = token.strip()
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    if not token:
        raise Refusal(Code.MALFORMED, "the token is empty")
    if len(token) > MAX_TOKEN_LENGTH:
        raise Refusal(Code.MALFORMED, f"the token is longer than {MAX_TOKEN_LENGTH} characters")
    if not _COMPACT.fullmatch(token):
        raise Refusal(Code.MALFORMED, "the token is not a compact JWS (three base64url segments)")
    return token


def _number(claims: dict[str, Any], name: str) -> float:
    value = claims.get(name)
    if value is None:
        raise Refusal(Code.MISSING_CLAIM, f"the claim {name!r} is required")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Refusal(Code.MALFORMED, f"the claim {name!r} must be a number (seconds)")
    return float(value)


def _text(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    if value is None or value == "":
        raise Refusal(Code.MISSING_CLAIM, f"the claim {name!r} is required")
    if not isinstance(value, str):
        raise Refusal(Code.MALFORMED, f"the claim {name!r} must be a string")
    return value


def _nonce_role(candidate: _Candidate, jti: str, now: float, leeway: float) -> str | None:
    if jti == candidate.nonce:
        return "current"
    if candidate.pending_nonce and jti == candidate.pending_nonce:
        return "pending"
    previous = candidate.previous_nonce and jti == candidate.previous_nonce
    if previous and (
        candidate.previous_expires_at is None or now <= candidate.previous_expires_at + leeway
    ):
        return "previous"
    return None


def _pick(candidates: tuple[_Candidate, ...], jti: str, now: float, leeway: float):
    for candidate in candidates:
        role = _nonce_role(candidate, jti, now, leeway)
        if role is not None:
            return candidate, role
    return candidates[0], None


def jws_verify(token: str) -> Verified:
    """Verify a presented JWS (bare or `Bearer ...`); raise `Refusal` if it must be refused."""
    try:
        verified = _verify(token)
    except Refusal as refusal:
        _count(refusal.code)
        logger.debug("jws refused: %s", refusal)
        raise
    _count("accepted")
    return verified


def _verify(token: str) -> Verified:
    """The checks of the package docstring, in its order: genuine, then current, then for
    exactly this data source."""
    kid, claims = _genuine(_bare(token))
    leeway = settings.JWS_LEEWAY_SECONDS
    now = time.time()
    _current(claims, now, leeway)
    candidate, role = _for_this_datasource(claims, now, leeway)
    return Verified(
        org_public_id=candidate.org_public_id,
        org_name=candidate.org_name,
        org_webex_id=candidate.org_webex_id,
        datasource_public_id=candidate.public_id,
        datasource_url=candidate.url,
        schema_id=candidate.schema_id,
        nonce=role,
        kid=kid,
        claims=claims,
    )


def _genuine(token: str) -> tuple[str, dict[str, Any]]:
    """Shape, algorithm, issuer (before any key is looked up), key and signature; returns the
    key id and the claims."""
    header_b64, claims_b64, signature_b64 = token.split(".")
    header = _json_segment(header_b64, "header")
    alg = header.get("alg")
    if alg is None:
        raise Refusal(Code.MALFORMED, "the header has no 'alg'")
    if alg != "RS256":
        raise Refusal(Code.ALGORITHM_NOT_ALLOWED, f"alg {alg!r} is not allowed; only RS256 is")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise Refusal(Code.MALFORMED, "the header has no 'kid'")
    claims = _json_segment(claims_b64, "claims")
    # The issuer decides where keys come from, so it is checked before any key is looked up.
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise Refusal(Code.MISSING_CLAIM, "the claim 'iss' is required")
    if issuer not in allowed_issuers():
        raise Refusal(Code.ISSUER_NOT_ALLOWED, f"issuer {issuer!r} is not allowed")
    key = jwks_cache.key(
        issuer,
        kid,
        lifetime=settings.JWS_JWKS_CACHE_SECONDS,
        refetch_interval=settings.JWS_JWKS_REFETCH_INTERVAL_SECONDS,
    )
    try:
        key.verify(
            _b64decode(signature_b64),
            f"{header_b64}.{claims_b64}".encode("ascii"),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except (InvalidSignature, binascii.Error, ValueError):
        raise Refusal(Code.BAD_SIGNATURE, "the signature does not verify") from None
    return kid, claims


def _current(claims: dict[str, Any], now: float, leeway: float) -> None:
    """Genuine from here on; now is it current?"""
    exp = _number(claims, "exp")
    iat = _number(claims, "iat")
    if now > exp + leeway:
        raise Refusal(Code.EXPIRED, f"the token expired {int(now - exp)} s ago")
    if iat > now + leeway:
        raise Refusal(Code.NOT_YET_VALID, "the token's 'iat' is in the future")
    if "nbf" in claims and _number(claims, "nbf") > now + leeway:
        raise Refusal(Code.NOT_YET_VALID, "the token's 'nbf' is in the future")


def _for_this_datasource(
    claims: dict[str, Any], now: float, leeway: float
) -> tuple[_Candidate, str]:
    """The registered data source the claims name, and which of its nonces the token carries
    (strings compared as they are: no URL normalisation)."""
    audience = claims.get("aud")
    if audience is None or audience == "" or audience == []:
        raise Refusal(Code.MISSING_CLAIM, "the claim 'aud' is required")
    subject = _text(claims, "sub")
    jti = _text(claims, "jti")
    url = _text(claims, CLAIM_URL)
    schema_id = _text(claims, CLAIM_SCHEMA)
    try:
        org_webex_id = uuid.UUID(_text(claims, CLAIM_ORG))
    except ValueError:
        raise Refusal(Code.MALFORMED, f"the claim {CLAIM_ORG!r} is not a UUID") from None
    lookup = (org_webex_id, url, schema_id)
    candidates = datasource_cache.get(lookup)
    if candidates and _pick(candidates, jti, now, leeway)[1] is None:
        # Maybe rotated since the cache entry was made: ask the database before refusing.
        candidates = datasource_cache.get(lookup, refresh=True)
    if not candidates:
        raise Refusal(
            Code.UNKNOWN_DATASOURCE,
            f"no data source of org {org_webex_id} has url {url!r} and schema {schema_id}",
        )
    candidate, role = _pick(candidates, jti, now, leeway)
    _same_registration(candidate, audience, subject)
    if role is None:
        raise Refusal(
            Code.STALE_NONCE,
            "the token's 'jti' is not the data source's current nonce, nor the previous one "
            "while its token lives",
        )
    return candidate, role


def _same_registration(candidate: _Candidate, audience: Any, subject: str) -> None:
    """The registered audience and subject, and a data source and org still taking data."""
    if isinstance(audience, list):
        audience_ok = candidate.audience in audience
    else:
        audience_ok = audience == candidate.audience
    if not audience_ok:
        raise Refusal(Code.AUDIENCE_MISMATCH, "the claim 'aud' is not the data source's audience")
    if subject != candidate.subject:
        raise Refusal(Code.SUBJECT_MISMATCH, "the claim 'sub' is not the data source's subject")
    if candidate.status != DataSource.Status.ACTIVE:
        raise Refusal(Code.DATASOURCE_DISABLED, "the data source is disabled")
    if candidate.org_status == CustomerOrg.Status.DEAUTHORIZED:
        raise Refusal(Code.ORG_DEAUTHORIZED, "the org no longer authorizes the Service App")
    if candidate.org_status in (CustomerOrg.Status.OFFBOARDING, CustomerOrg.Status.OFFBOARDED):
        raise Refusal(Code.ORG_OFFBOARDED, "the org is offboarded")


# HTTP status per outcome for POST /api/v1/jws/verify (built by the API-key engineer).
_API_STATUS = {Code.KEYS_UNAVAILABLE: 503}


def jws_verify_for_api(token: Any) -> tuple[int, dict[str, Any]]:
    """The decision as `(http_status, body)` for `POST /api/v1/jws/verify` (body `{"token": ...}`).

    - 200 `{"valid": true, "org": {id, webexId, name}, "dataSource": {id, url, schemaId},
      "nonce": "current"|"pending"|"previous", "kid": ..., "claims": {...}}`
    - 400 `{"valid": false, "code": "malformed", "field": "token", "message": ...}` when the
      token is missing or not a string
    - 200 `{"valid": false, "code": <Code>, "message": ...}`: the token is refused (the
      call succeeded; 401 stays the answer for a bad API key)
    - 503 the same with `code: "keys_unavailable"` and `retryAfter` (seconds): the issuer's key
      set could not be fetched; the token may be fine, try again.
    """
    if not isinstance(token, str) or not token.strip():
        return 400, {
            "valid": False,
            "code": Code.MALFORMED.value,
            "field": "token",
            "message": "token is required: the JWS as presented, bare or 'Bearer <jws>'",
        }
    try:
        verified = jws_verify(token)
    except Refusal as refusal:
        status = _API_STATUS.get(refusal.code, 200)
        body: dict[str, Any] = {
            "valid": False,
            "code": refusal.code.value,
            "message": refusal.message,
        }
        if status == 503:
            body["retryAfter"] = max(1, int(settings.JWS_JWKS_REFETCH_INTERVAL_SECONDS))
        return status, body
    return 200, {"valid": True, **verified.as_json()}
