"""Which issuers may sign, and their keys: a per-process JWKS cache (fetch once, refetch once
on an unknown kid at most every so often, keep stale keys when a fetch fails)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from django.conf import settings

from webex.jwks import JwksFetchError, jwks_fetch, jwks_url

from .codes import Code, Refusal

logger = logging.getLogger("datasources.jws")


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
