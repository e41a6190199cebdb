"""Heartbeats of the worker and scheduler processes, and the lease that lets one scheduler act.

Each process writes its own row (one UPSERT every few seconds); readers (deep health, /metrics,
the dashboard, the liveness alerts) compare `last_seen_at` with the clock. Times are the
writer's clock: keep the hosts' clocks in sync (NTP), as every lease-based scheme must.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from core.encryption import keyring

from .models import SchedulerLease, ServiceHeartbeat

Role = ServiceHeartbeat.Role
SCHEDULER_LEASE = "beat"


def heartbeat_record(
    *,
    role: str,
    name: str,
    pid: int,
    started_at: dt.datetime,
    acting: bool = False,
    now: dt.datetime | None = None,
) -> None:
    """This process is alive at `now`, holding its current key ring: create or refresh its row."""
    now = now or timezone.now()
    ring = keyring()
    ServiceHeartbeat.objects.update_or_create(
        role=role,
        name=name,
        defaults={
            "pid": pid,
            "started_at": started_at,
            "last_seen_at": now,
            "acting": acting,
            "key_ids": list(ring.ids),
            "primary_key_id": ring.primary,
        },
    )


def heartbeat_forget(*, role: str, name: str) -> None:
    """A process stopping cleanly removes its row at once, so a rolling restart leaves no
    stale ring behind (a crashed process's row ages out after the watchers' windows)."""
    ServiceHeartbeat.objects.filter(role=role, name=name).delete()


def heartbeats_seen(*, within: dt.timedelta, now: dt.datetime | None = None):
    """Every process (web, worker, scheduler) that beat within `within` of `now`."""
    now = now or timezone.now()
    return ServiceHeartbeat.objects.filter(last_seen_at__gte=now - within).order_by("role", "name")


def heartbeats_prune(*, now: dt.datetime | None = None) -> int:
    """Forget processes silent for a day (a restarted host comes back under a new pid)."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=1)
    deleted, _ = ServiceHeartbeat.objects.filter(last_seen_at__lt=cutoff).delete()
    return deleted


def lease_hold(
    *, holder: str, seconds: float, name: str = SCHEDULER_LEASE, now: dt.datetime | None = None
) -> bool:
    """Renew the lease if `holder` has it, take it if it lapsed, else leave it: True when
    `holder` holds it for the next `seconds`. One conditional UPDATE, so two schedulers racing
    for a lapsed lease cannot both win."""
    now = now or timezone.now()
    until = now + dt.timedelta(seconds=seconds)
    lease = SchedulerLease.objects.filter(name=name)
    if lease.filter(holder=holder).update(until=until):
        return True
    if lease.filter(until__lt=now).update(holder=holder, until=until, acquired_at=now):
        return True
    if lease.exists():
        return False
    try:
        with transaction.atomic():
            SchedulerLease.objects.create(name=name, holder=holder, until=until, acquired_at=now)
    except IntegrityError:  # another scheduler created it first
        return False
    return True


def lease_release(*, holder: str, name: str = SCHEDULER_LEASE) -> None:
    """A scheduler stopping cleanly hands over at once instead of after its lease lapses."""
    SchedulerLease.objects.filter(name=name, holder=holder).update(until=timezone.now())


@dataclass(frozen=True)
class Liveness:
    """What the heartbeats say at `now`."""

    now: dt.datetime
    workers: list[ServiceHeartbeat]  # every worker seen in the last day, newest first
    schedulers: list[ServiceHeartbeat]
    lease: SchedulerLease | None

    @property
    def live_workers(self) -> list[ServiceHeartbeat]:
        cutoff = self.now - dt.timedelta(seconds=settings.PORTAL_WORKER_SILENT_SECONDS)
        return [w for w in self.workers if w.last_seen_at >= cutoff]

    @property
    def last_tick(self) -> dt.datetime | None:
        """When a scheduler last beat while holding the lease (it was sending tasks)."""
        acting = [s.last_seen_at for s in self.schedulers if s.acting]
        return max(acting, default=None)

    @property
    def last_worker_beat(self) -> dt.datetime | None:
        return max((w.last_seen_at for w in self.workers), default=None)

    @property
    def scheduler_silent(self) -> bool:
        limit = dt.timedelta(seconds=settings.PORTAL_SCHEDULER_SILENT_SECONDS)
        return self.last_tick is None or self.now - self.last_tick > limit

    @property
    def no_worker(self) -> bool:
        return not self.live_workers


def liveness(*, now: dt.datetime | None = None) -> Liveness:
    """Two small reads: the heartbeat rows (a few per process, pruned daily) and the lease."""
    now = now or timezone.now()
    rows = list(
        ServiceHeartbeat.objects.filter(
            Q(last_seen_at__gte=now - dt.timedelta(days=1)) | Q(role=Role.SCHEDULER, acting=True)
        ).order_by("-last_seen_at")
    )
    return Liveness(
        now=now,
        workers=[r for r in rows if r.role == Role.WORKER],
        schedulers=[r for r in rows if r.role == Role.SCHEDULER],
        lease=SchedulerLease.objects.filter(name=SCHEDULER_LEASE).first(),
    )
