"""The data source a token names, by org, URL and schema, with a short per-process memo."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from django.conf import settings

from ..models import DataSource


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
