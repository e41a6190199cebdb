"""A beat scheduler of which any number may run while exactly one acts.

Every `celery beat` process (CELERY_BEAT_SCHEDULER points here) checks in every third of
SCHEDULER_LEASE_SECONDS: it records its heartbeat and renews, or takes, the database lease
(`stats.liveness.lease_hold`). Only the holder sends the schedule's tasks; the others keep
their own schedule and stand by. When the holder dies, its lease lapses and a standby takes
over within one lease, with every task that fell due meanwhile sent once at takeover. Our
tasks are idempotent (claims and leases of their own), so the moment two might overlap (a
holder frozen past its lease) costs a duplicate sweep, never a double rotation.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any

from celery.beat import PersistentScheduler

logger = logging.getLogger(__name__)


class LeasedScheduler(PersistentScheduler):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from django.utils import timezone

        self.holder = f"beat@{socket.gethostname()}:{os.getpid()}"
        self.started_at = timezone.now()
        self.acting = False
        self._next_check = 0.0
        super().__init__(*args, **kwargs)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        """Check in when due; send due tasks only while holding the lease. Returns how long
        beat may sleep: never past the next check-in."""
        now = time.monotonic()
        if now >= self._next_check:
            self._check_in()
            now = time.monotonic()
            self._next_check = now + self._lease_seconds() / 3
        until_check = max(self._next_check - now, 0.05)
        if not self.acting:
            return until_check
        return min(super().tick(*args, **kwargs), until_check)

    def close(self) -> None:
        super().close()
        if self.acting:
            from django.db import DatabaseError

            from stats.liveness import lease_release

            try:
                lease_release(holder=self.holder)
            except DatabaseError:
                logger.warning(
                    "%s: could not hand the lease over; it lapses by itself", self.holder
                )

    @staticmethod
    def _lease_seconds() -> float:
        from django.conf import settings

        return settings.SCHEDULER_LEASE_SECONDS

    def _check_in(self) -> None:
        from django.db import DatabaseError

        from stats.liveness import Role, lease_hold

        from .heartbeats import beat_once, refresh_connection

        refresh_connection()
        was_acting = self.acting
        try:
            self.acting = lease_hold(holder=self.holder, seconds=self._lease_seconds())
        except DatabaseError as exc:
            # Without the database nobody can prove the lease: stop sending until it is back.
            self.acting = False
            logger.warning("%s: lease unknown (%s); not sending", self.holder, type(exc).__name__)
        if self.acting != was_acting:
            logger.warning(
                "%s %s the scheduler lease",
                self.holder,
                "took" if self.acting else "lost",
            )
        beat_once(
            role=Role.SCHEDULER, name=self.holder, started_at=self.started_at, acting=self.acting
        )
