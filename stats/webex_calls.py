"""The fleet's calls to Webex, as the processes that made them drained them from their ledger
(`webex.metrics`): totals per endpoint and status, a latency histogram, and per-minute counts
for "is Webex answering right now"."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.db import DatabaseError, transaction
from django.utils import timezone

from webex.metrics import BUCKETS, LEDGER, Drained

from .counters import add
from .models import WebexCallCount, WebexCallMinute, WebexLatencyBucket

logger = logging.getLogger(__name__)
WINDOW = dt.timedelta(minutes=5)  # the error share's window
KEEP = dt.timedelta(days=1)  # per-minute rows older than this are deleted at the next flush


def webex_calls_store(drained: Drained) -> None:
    """Add one drain's counts to the tables, in one transaction (a few UPSERTs per endpoint)."""
    if not drained:
        return
    with transaction.atomic():
        for (endpoint, status), (count, seconds) in sorted(drained.calls.items()):
            add(
                WebexCallCount,
                keys={"endpoint": endpoint, "status": status},
                counts={"count": int(count), "seconds": seconds},
            )
        for endpoint, buckets in sorted(drained.buckets.items()):
            for bucket, count in enumerate(buckets):
                if count:
                    add(
                        WebexLatencyBucket,
                        keys={"endpoint": endpoint, "bucket": bucket},
                        counts={"count": count},
                    )
        for epoch, (ok, failed) in sorted(drained.minutes.items()):
            minute = dt.datetime.fromtimestamp(epoch, tz=dt.UTC)
            add(WebexCallMinute, keys={"minute": minute}, counts={"ok": ok, "failed": failed})
        if drained.last_ok is not None:
            last_ok = dt.datetime.fromtimestamp(drained.last_ok, tz=dt.UTC)
            minute = last_ok.replace(second=0, microsecond=0)
            WebexCallMinute.objects.filter(minute=minute).exclude(last_ok_at__gte=last_ok).update(
                last_ok_at=last_ok
            )
        WebexCallMinute.objects.filter(minute__lt=timezone.now() - KEEP).delete()


def webex_calls_flush() -> bool:
    """Drain this process's ledger into the tables. A database that cannot take it gets the
    counts back into the ledger for the next flush; True when stored."""
    drained = LEDGER.drain()
    if not drained:
        return True
    try:
        webex_calls_store(drained)
    except DatabaseError:
        LEDGER.restore(drained)
        logger.warning("webex call counts kept in memory: the database did not take them")
        return False
    return True


@dataclass(frozen=True)
class WebexHealth:
    ok: int  # calls answered well in the window
    failed: int  # transport errors, 5xx and 429 in the window
    last_ok_at: dt.datetime | None

    @property
    def error_share(self) -> float | None:
        total = self.ok + self.failed
        return self.failed / total if total else None


def webex_health(*, now: dt.datetime | None = None) -> WebexHealth:
    """The last five minutes of calls, and the last call Webex answered well."""
    now = now or timezone.now()
    recent = WebexCallMinute.objects.filter(minute__gte=now - WINDOW)
    ok = failed = 0
    for row_ok, row_failed in recent.values_list("ok", "failed"):
        ok += row_ok
        failed += row_failed
    last = (
        WebexCallMinute.objects.filter(last_ok_at__isnull=False)
        .order_by("-minute")
        .values_list("last_ok_at", flat=True)
        .first()
    )
    return WebexHealth(ok=ok, failed=failed, last_ok_at=last)


def webex_call_counts() -> list[tuple[str, str, int, float]]:
    """(endpoint, status, count, seconds) ever, one row per pair."""
    return list(
        WebexCallCount.objects.order_by("endpoint", "status").values_list(
            "endpoint", "status", "count", "seconds"
        )
    )


def webex_latency_buckets() -> dict[str, list[int]]:
    """endpoint -> count per bucket (not cumulative), as `webex.metrics.BUCKETS` orders them."""
    found: dict[str, list[int]] = {}
    for endpoint, bucket, count in WebexLatencyBucket.objects.values_list(
        "endpoint", "bucket", "count"
    ):
        found.setdefault(endpoint, [0] * (len(BUCKETS) + 1))[bucket] = count
    return found
