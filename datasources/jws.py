"""Verify the JWS that Webex presents to a data source URL (issue 9).

When Webex opens a connection to a data source it presents the JWS the data source was last
given (README of webex/, "The JWS that Webex presents"). A receiver must accept it only if it
is genuine (signed by an allow-listed Webex issuer), current (unexpired, and carrying the data
source's current nonce, or the previous one while that older token lives) and for exactly that
data source. `jws_verify(token)` decides, and returns a `Verified` or raises `Refusal` with one
of the stable machine-readable codes in `Code`.

The checks, in order (a cheaper or more fundamental check always comes first, and no key is
fetched for a token whose issuer is not allowed):
 1. shape: three base64url segments, JSON header and claims                -> malformed
 2. header `alg` is RS256 (`none`, HS256, ... are refused unverified)     -> algorithm_not_allowed
 3. `iss` on the allow-list (settings.JWS_ISSUERS, plus the emulator's
    identity broker when settings.JWS_ALLOW_EMULATOR)                     -> issuer_not_allowed
 4. the issuer's key for the header's `kid` (JWKS cache, below)           -> unknown_key,
                                                                              keys_unavailable
 5. the RS256 signature over the raw segments                             -> bad_signature
 6. `exp`, `iat` (and `nbf` if present) with JWS_LEEWAY_SECONDS           -> expired,
                                                                              not_yet_valid
 7. `aud`, `sub`, `jti` and the three com.cisco claims are present        -> missing_claim
 8. the data source by org, URL and schema, compared exactly (so
    `https://h` is not `https://h:443` and `/feed` is not `/feed/`)        -> unknown_datasource
 9. `aud` and `sub` equal the registered ones                             -> audience_mismatch,
                                                                              subject_mismatch
10. the data source is enabled and its org not deauthorized/offboarded    -> datasource_disabled,
                                                                              org_deauthorized,
                                                                              org_offboarded
11. `jti` is the current nonce, the pending one (Webex signed it but the
    portal has not recorded the answer yet: we chose that nonce for this
    data source, so the token is as genuine as a current one), or the
    previous one while its token has not expired                          -> stale_nonce

Verification is a read: it writes no audit rows (a receiver may verify thousands of tokens a
second, and nothing changes state); `jws_counters()` counts outcomes per code instead. The token
itself is never logged, stored, or put in a refusal message.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import logging
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from django.conf import settings

from tenants.models import CustomerOrg
from webex.jwks import JwksFetchError, jwks_fetch, jwks_url

from .models import DataSource

logger = logging.getLogger("datasources.jws")

CLAIM_URL = "com.cisco.datasource.url"
CLAIM_SCHEMA = "com.cisco.datasource.schema.uuid"
CLAIM_ORG = "com.cisco.org.uuid"
MAX_TOKEN_LENGTH = 16 * 1024
# The signature may be empty so that an `alg: none` token gets its precise refusal.
_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


class Code(enum.StrEnum):
    """Why a token was refused. Stable: receivers in other languages switch on these."""

    MALFORMED = "malformed"
    ALGORITHM_NOT_ALLOWED = "algorithm_not_allowed"
    ISSUER_NOT_ALLOWED = "issuer_not_allowed"
    UNKNOWN_KEY = "unknown_key"
    KEYS_UNAVAILABLE = "keys_unavailable"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    MISSING_CLAIM = "missing_claim"
    UNKNOWN_DATASOURCE = "unknown_datasource"
    AUDIENCE_MISMATCH = "audience_mismatch"
    SUBJECT_MISMATCH = "subject_mismatch"
    DATASOURCE_DISABLED = "datasource_disabled"
    ORG_DEAUTHORIZED = "org_deauthorized"
    ORG_OFFBOARDED = "org_offboarded"
    STALE_NONCE = "stale_nonce"


class Refusal(Exception):  # noqa: N818 - a decision, not an error of ours
    """The token is refused; `code` is a `Code`, `message` says why for a human (no secrets)."""

    def __init__(self, code: Code, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


@dataclass(frozen=True)
class Verified:
    """An accepted token: whose it is, and its claims (the token itself is not kept)."""

    org_public_id: uuid.UUID
    org_name: str
    org_webex_id: uuid.UUID
    datasource_public_id: uuid.UUID
    datasource_url: str
    schema_id: str
    nonce: str  # "current", "pending" or "previous": which of the data source's nonces matched
    kid: str
    claims: dict[str, Any] = field(repr=False)

    def as_json(self) -> dict[str, Any]:
        return {
            "org": {
                "id": str(self.org_public_id),
                "webexId": str(self.org_webex_id),
                "name": self.org_name,
            },
            "dataSource": {
                "id": str(self.datasource_public_id),
                "url": self.datasource_url,
                "schemaId": self.schema_id,
            },
            "nonce": self.nonce,
            "kid": self.kid,
            "claims": self.claims,
        }


# --------------------------------------------------------------------------- counters

_counts: Counter[str] = Counter()
_counts_lock = threading.Lock()


def _count(outcome: str) -> None:
    with _counts_lock:
        _counts[outcome] += 1


def jws_counters() -> dict[str, int]:
    """Outcomes since the process started: "accepted" and one entry per refusal code."""
    with _counts_lock:
        return dict(_counts)


# --------------------------------------------------------------------------- issuers


def allowed_issuers() -> frozenset[str]:
    """The real Webex issuers, plus the identity brokers the regions point at when those are
    not Webex and JWS_ALLOW_EMULATOR is on. The emulator's issuer is `<its base URL>/idb`,
    which is exactly the `idbroker` base the regions configure for it."""
    # Memoised on the identity of the settings objects (a settings override replaces them).
    key = (settings.JWS_ISSUERS, settings.JWS_ALLOW_EMULATOR, settings.WEBEX_REGIONS)
    cached = _issuers_cache.get("value")
    if cached is not None and all(a is b for a, b in zip(cached[0], key, strict=True)):
        return cached[1]
    issuers = {issuer.rstrip("/") for issuer in settings.JWS_ISSUERS}
    if settings.JWS_ALLOW_EMULATOR:
        issuers.update(region["idbroker"].rstrip("/") for region in settings.WEBEX_REGIONS.values())
    value = frozenset(issuers)
    _issuers_cache["value"] = (key, value)
    return value


_issuers_cache: dict[str, tuple[tuple, frozenset[str]]] = {}


# --------------------------------------------------------------------------- keys


@dataclass
class _KeySet:
    keys: dict[str, RSAPublicKey]
    fresh_until: float  # monotonic; after it the set is refetched (kept if that fails)
    attempted_at: float  # monotonic time of the last fetch attempt, successful or not


class JwksCache:
    """Issuer -> its keys by kid, shared by every thread of the process.

    - A set is fetched once and reused for `lifetime` seconds, then refetched.
    - An unknown kid refetches the set once, but an issuer is asked at most once per
      `refetch_interval` (counting failures), so a flood of random kids costs one request per
      interval, not one per token.
    - A failed fetch keeps the keys we have (stale keys still verify tokens signed with them).
    - One fetch per issuer at a time: other threads wait on the issuer's lock, then find the
      fresh set instead of fetching again. Hits take no lock.
    """

    def __init__(
        self,
        fetch: Callable[[str], dict[str, RSAPublicKey]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._sets: dict[str, _KeySet] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()
        self.fetches = 0  # attempts, for tests and the bench

    def clear(self) -> None:
        with self._locks_lock:
            self._sets.clear()
            self.fetches = 0

    def _lock(self, issuer: str) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(issuer, threading.Lock())

    def key(self, issuer: str, kid: str, *, lifetime: float, refetch_interval: float):
        entry = self._sets.get(issuer)
        if entry is not None and self._clock() < entry.fresh_until:
            found = entry.keys.get(kid)
            if found is not None:
                return found
        with self._lock(issuer):
            entry = self._sets.get(issuer)  # another thread may have fetched meanwhile
            now = self._clock()
            if entry is not None and now < entry.fresh_until and kid in entry.keys:
                return entry.keys[kid]
            if entry is None or now - entry.attempted_at >= refetch_interval:
                self.fetches += 1
                try:
                    keys = self._fetch(issuer)
                except JwksFetchError as exc:
                    logger.warning("jws: key set of %s unavailable: %s", issuer, exc)
                    if entry is None:
                        entry = _KeySet(keys={}, fresh_until=now, attempted_at=now)
                    else:
                        entry.attempted_at = now
                    self._sets[issuer] = entry
                    if kid not in entry.keys:
                        raise Refusal(
                            Code.KEYS_UNAVAILABLE,
                            f"the key set of {issuer} could not be fetched; try again later",
                        ) from None
                    return entry.keys[kid]
                entry = _KeySet(keys=keys, fresh_until=now + lifetime, attempted_at=now)
                self._sets[issuer] = entry
            if kid in entry.keys:
                return entry.keys[kid]
            if not entry.keys:
                raise Refusal(
                    Code.KEYS_UNAVAILABLE,
                    f"the key set of {issuer} could not be fetched; try again later",
                )
            raise Refusal(Code.UNKNOWN_KEY, f"no key {kid!r} in the key set of {issuer}")


def _fetch_from_issuer(issuer: str) -> dict[str, RSAPublicKey]:
    return jwks_fetch(
        url=jwks_url(issuer),
        connect_timeout=settings.WEBEX_CONNECT_TIMEOUT,
        read_timeout=min(settings.WEBEX_READ_TIMEOUT, 10.0),
    )


jwks_cache = JwksCache(_fetch_from_issuer)


# --------------------------------------------------------------------------- data sources


@dataclass(frozen=True)
class _Candidate:
    """What verification needs of one data source row and its org: an immutable snapshot."""

    public_id: uuid.UUID
    url: str
    schema_id: str
    audience: str
    subject: str
    status: str
    nonce: str
    pending_nonce: str
    previous_nonce: str
    previous_expires_at: float | None  # POSIX seconds
    org_public_id: uuid.UUID
    org_name: str
    org_webex_id: uuid.UUID
    org_status: str


_FIELDS = (
    "public_id",
    "url",
    "schema_id",
    "audience",
    "subject",
    "status",
    "nonce",
    "pending_nonce",
    "previous_nonce",
    "previous_token_expires_at",
    "org__public_id",
    "org__name",
    "org__webex_org_id",
    "org__status",
)


def _load_candidates(org_webex_id: uuid.UUID, url: str, schema_id: str) -> tuple[_Candidate, ...]:
    """The live (not deleted) data sources with exactly this org, URL and schema; uses the
    `ds_jws_lookup_idx` index. Usually one; Webex does not forbid two."""
    rows = DataSource.objects.filter(
        schema_id=schema_id, url=url, org__webex_org_id=org_webex_id, deleted_at__isnull=True
    ).values_list(*_FIELDS)
    candidates = []
    for row in rows:
        values = list(row)
        previous = values[9]
        values[9] = previous.timestamp() if previous is not None else None
        candidates.append(_Candidate(*values))
    return tuple(candidates)


class _DataSourceCache:
    """A short-lived, per-process memo of `_load_candidates`.

    Why it is sound: an entry lives at most JWS_DATASOURCE_CACHE_SECONDS. Every change that
    makes a new token valid also gives the data source a new nonce (register, rotate, update,
    enable), and a token whose `jti` matches none of the cached nonces is re-checked against the
    database before it is refused, so the cache never refuses a token the database would
    accept. The other way round, a change that should refuse a token (disable, delete,
    offboarding, a second rotation retiring the previous nonce) takes effect at most that many
    seconds late in this process; the rotation overlap itself lasts minutes, and Webex stops
    presenting a disabled data source's token on its own. Set it to 0 to disable the cache.
    Entries are immutable snapshots, so threads share them without locks; the dict is cleared
    when it grows beyond `max_entries`.
    """

    def __init__(self, max_entries: int = 50_000) -> None:
        self._entries: dict[tuple, tuple[float, tuple[_Candidate, ...]]] = {}
        self.max_entries = max_entries

    def clear(self) -> None:
        self._entries.clear()

    def get(self, key: tuple, *, refresh: bool = False) -> tuple[_Candidate, ...]:
        ttl = settings.JWS_DATASOURCE_CACHE_SECONDS
        now = time.monotonic()
        if not refresh and ttl > 0:
            hit = self._entries.get(key)
            if hit is not None and now < hit[0]:
                return hit[1]
        candidates = _load_candidates(*key)
        if ttl > 0 and candidates:  # never memo "unknown": a new registration must work at once
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = (now + ttl, candidates)
        return candidates


datasource_cache = _DataSourceCache()


def jws_caches_clear() -> None:
    """Forget cached keys, data sources and issuers (tests, and after a configuration change)."""
    jwks_cache.clear()
    datasource_cache.clear()
    _issuers_cache.clear()


# --------------------------------------------------------------------------- verification


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
    token = _bare(token)
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

    # Genuine from here on; now is it current?
    leeway = settings.JWS_LEEWAY_SECONDS
    now = time.time()
    exp = _number(claims, "exp")
    iat = _number(claims, "iat")
    if now > exp + leeway:
        raise Refusal(Code.EXPIRED, f"the token expired {int(now - exp)} s ago")
    if iat > now + leeway:
        raise Refusal(Code.NOT_YET_VALID, "the token's 'iat' is in the future")
    if "nbf" in claims and _number(claims, "nbf") > now + leeway:
        raise Refusal(Code.NOT_YET_VALID, "the token's 'nbf' is in the future")
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

    # For exactly this data source? Strings are compared as they are: no URL normalisation.
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
    if role is None:
        raise Refusal(
            Code.STALE_NONCE,
            "the token's 'jti' is not the data source's current nonce, nor the previous one "
            "while its token lives",
        )
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


# --------------------------------------------------------------------------- the API's answer

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
