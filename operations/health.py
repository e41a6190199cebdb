"""The deep health check: is every part that keeps customers' data flowing alive right now?

`/healthz` stays the load balancer's cheap answer (database and broker). `/healthz?deep=1`
and the dashboard's Services panel add what only the heartbeats know: each worker seen in the
last minute, the acting scheduler's last tick, and how Webex has been answering. The answer is
"down" (503) when the database, the broker, the scheduler or every worker is gone.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from core.health import Check, run_checks
from stats.liveness import Liveness, liveness
from stats.webex_calls import WebexHealth, webex_health


@dataclass(frozen=True)
class DeepHealth:
    now: dt.datetime
    checks: list[Check]  # database, broker, scheduler, workers, webex: the panel's rows
    seen: Liveness
    webex: WebexHealth
    down: list[str] = field(default_factory=list)  # names of the checks that make it "down"

    @property
    def ok(self) -> bool:
        return not self.down

    def as_dict(self) -> dict:
        def stamp(moment: dt.datetime | None) -> str | None:
            return moment.isoformat() if moment else None

        def age(moment: dt.datetime | None) -> float | None:
            return round((self.now - moment).total_seconds(), 1) if moment else None

        body: dict = {c.name: c.as_dict() for c in self.checks}
        body["scheduler"] |= {
            "last_tick": stamp(self.seen.last_tick),
            "age_seconds": age(self.seen.last_tick),
            "lease_holder": self.seen.lease.holder if self.seen.lease else None,
            "schedulers": [
                {"name": s.name, "last_seen": stamp(s.last_seen_at), "acting": s.acting}
                for s in self.seen.schedulers
            ],
        }
        live = {w.pk for w in self.seen.live_workers}
        body["workers"] |= {
            "live": len(live),
            "workers": [
                {
                    "name": w.name,
                    "last_seen": stamp(w.last_seen_at),
                    "age_seconds": age(w.last_seen_at),
                    "live": w.pk in live,
                }
                for w in self.seen.workers
            ],
        }
        body["webex"] |= {
            "last_success": stamp(self.webex.last_ok_at),
            "calls_5m": self.webex.ok + self.webex.failed,
            "error_share_5m": self.webex.error_share,
        }
        return {"status": "ok" if self.ok else "down", "checks": body}


def _ago(now: dt.datetime, moment: dt.datetime) -> str:
    seconds = max(0, int((now - moment).total_seconds()))
    return f"{seconds} s ago" if seconds < 120 else f"{seconds // 60} min ago"


def deep_health(*, now: dt.datetime | None = None) -> DeepHealth:
    """Database and broker (live probes), then the heartbeats and Webex's last five minutes
    (three small reads, whatever the fleet's size)."""
    started = time.monotonic()
    now = now or timezone.now()
    checks = run_checks()
    down = [c.name for c in checks if not c.ok]
    if checks[0].ok:  # the database: without it nothing below can be known
        seen, webex = liveness(now=now), webex_health(now=now)
    else:
        seen, webex = (
            Liveness(now=now, workers=[], schedulers=[], lease=None),
            WebexHealth(0, 0, None),
        )
    ms = (time.monotonic() - started) * 1000

    tick = seen.last_tick
    if seen.scheduler_silent:
        down.append("scheduler")
        detail = f"silent: last tick {_ago(now, tick)}" if tick else "silent: no tick ever recorded"
    else:
        holder = seen.lease.holder if seen.lease else "?"
        standby = len(seen.schedulers) - 1
        detail = f"{holder} ticked {_ago(now, tick)}" if tick else holder
        detail += f"; {standby} standing by" if standby > 0 else "; none standing by"
    checks.append(Check("scheduler", not seen.scheduler_silent, detail, ms))

    live = seen.live_workers
    if not live:
        down.append("workers")
        last = seen.last_worker_beat
        detail = f"none alive: last heartbeat {_ago(now, last)}" if last else "none ever seen"
    else:
        names = ", ".join(f"{w.name} ({_ago(now, w.last_seen_at)})" for w in live[:5])
        more = f" and {len(live) - 5} more" if len(live) > 5 else ""
        detail = f"{len(live)} alive: {names}{more}"
    checks.append(Check("workers", bool(live), detail, ms))

    share = webex.error_share
    webex_ok = share is None or share < settings.PORTAL_WEBEX_ERROR_SHARE
    parts = []
    if share is not None:
        parts.append(f"{share:.0%} errors in {webex.ok + webex.failed} calls over 5 min")
    else:
        parts.append("no calls in 5 min")
    parts.append(
        f"last success {_ago(now, webex.last_ok_at)}" if webex.last_ok_at else "no success yet"
    )
    # Webex's trouble is reported, not "down": the portal itself is fine and keeps retrying.
    checks.append(Check("webex", webex_ok, "; ".join(parts), ms))
    return DeepHealth(now=now, checks=checks, seen=seen, webex=webex, down=down)
