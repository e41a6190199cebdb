"""What this process's calls to Webex did, counted in memory until someone drains them.

The client records every HTTP attempt here (a lock and a few dict updates, no I/O: it runs in
the rotation threads, which hold no database connection). A worker's heartbeat and the web
process's request cycle drain the ledger into the database (`stats.webex_calls`), which is what
`/metrics` and the deep health check read, so any web process answers for the whole fleet.
"""

from __future__ import annotations

import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

# Upper bounds (seconds) of the latency histogram's buckets; +Inf is implied after the last.
BUCKETS: tuple[float, ...] = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
TRANSPORT_ERROR = "transport_error"  # the status label of an attempt that got no HTTP answer
# A path segment kept in the endpoint label: a word (dataSources, access_token), a version,
# oauth2; anything else is an id.
_WORD = re.compile(r"^(?:[A-Za-z_]{1,40}|v\d+|oauth2)$")


def endpoint_label(method: str, path: str) -> str:
    """`PUT /v1/dataSources/{id}`: the method and the path with its ids replaced, so labels
    stay few whatever the fleet's size."""
    segments = [s if _WORD.match(s) else "{id}" for s in path.split("/") if s]
    return f"{method} /{'/'.join(segments)}"


def is_error(status: str) -> bool:
    """Counts against Webex's health: no answer, a server error or a rate limit. A 4xx answer is
    Webex working as documented (a 404 of a deleted data source, a 401 of a revoked token)."""
    if status == TRANSPORT_ERROR:
        return True
    code = int(status)
    return code >= 500 or code == 429


def bucket_index(seconds: float) -> int:
    """Index of the first bucket whose bound is at least `seconds` (len(BUCKETS) for +Inf)."""
    for index, bound in enumerate(BUCKETS):
        if seconds <= bound:
            return index
    return len(BUCKETS)


@dataclass
class Drained:
    """The calls recorded since the last drain."""

    # (endpoint, status) -> [count, total seconds]
    calls: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    # endpoint -> count per bucket (not cumulative; the last is +Inf)
    buckets: dict[str, list[int]] = field(default_factory=dict)
    # minute (epoch seconds, a multiple of 60) -> [answered well, errors]
    minutes: dict[int, list[int]] = field(default_factory=dict)
    last_ok: float | None = None  # epoch seconds of the last call that was not an error

    def __bool__(self) -> bool:
        return bool(self.calls)


class CallLedger:
    """Thread-safe counters of one process's Webex calls since the last `drain()`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending = Drained()

    def record(self, *, method: str, path: str, status: str, seconds: float) -> None:
        endpoint = endpoint_label(method, path)
        now = time.time()
        bad = is_error(status)
        with self._lock:
            pending = self._pending
            entry = pending.calls.setdefault((endpoint, status), [0, 0.0])
            entry[0] += 1
            entry[1] += seconds
            buckets = pending.buckets.get(endpoint)
            if buckets is None:
                buckets = pending.buckets[endpoint] = [0] * (len(BUCKETS) + 1)
            buckets[bucket_index(seconds)] += 1
            minute = pending.minutes.setdefault(int(now // 60) * 60, [0, 0])
            minute[1 if bad else 0] += 1
            if not bad:
                pending.last_ok = now

    def drain(self) -> Drained:
        """What was recorded since the last drain; the ledger starts again from zero."""
        with self._lock:
            drained, self._pending = self._pending, Drained()
        return drained

    def restore(self, drained: Drained) -> None:
        """Put back counts a failed flush could not store, so none is lost."""
        with self._lock:
            pending = self._pending
            for key, (count, seconds) in drained.calls.items():
                entry = pending.calls.setdefault(key, [0, 0.0])
                entry[0] += count
                entry[1] += seconds
            for endpoint, counts in drained.buckets.items():
                merged = pending.buckets.setdefault(endpoint, [0] * (len(BUCKETS) + 1))
                for index, count in enumerate(counts):
                    merged[index] += count
            merged_minutes: defaultdict[int, list[int]] = defaultdict(lambda: [0, 0])
            merged_minutes.update(pending.minutes)
            for minute, (ok, bad) in drained.minutes.items():
                merged_minutes[minute][0] += ok
                merged_minutes[minute][1] += bad
            pending.minutes = dict(merged_minutes)
            if drained.last_ok and (pending.last_ok or 0) < drained.last_ok:
                pending.last_ok = drained.last_ok


LEDGER = CallLedger()
