"""What every worker and scheduler process does every few seconds to say it is alive.

A beat writes the process's heartbeat row, drains its ledger of Webex calls into the database
(so /metrics and the deep health check see every process's calls), and watches the other kind
of process: a worker opens the "scheduler silent" alert, a scheduler the "no live worker" one,
and delivers it itself (the queue may have nobody to read it).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading

from celery import bootsteps

# Imported by the Celery app before Django's apps are ready: models are imported where used.
logger = logging.getLogger(__name__)


def refresh_connection() -> None:
    """Drop this thread's database connection if it broke or aged out, as Django does around
    each request: these threads live for days. Never inside a transaction (tests run there)."""
    from django.db import close_old_connections, connection

    if not connection.in_atomic_block:
        close_old_connections()


def beat_once(*, role: str, name: str, started_at: dt.datetime, acting: bool = False) -> bool:
    """One heartbeat of this process; False (and a warning) when the database is away, which a
    heartbeat must survive: the next one tries again."""
    from django.db import DatabaseError

    from alerts.services import alerts_deliver_inline, alerts_watch_liveness
    from audit.context import Actor, bound
    from stats.liveness import heartbeat_record, heartbeats_prune
    from stats.webex_calls import webex_calls_flush

    refresh_connection()
    actor = Actor.system(f"{role}.heartbeat")
    try:
        with bound(actor=actor):
            heartbeat_record(
                role=role, name=name, pid=os.getpid(), started_at=started_at, acting=acting
            )
            webex_calls_flush()
            report = alerts_watch_liveness(actor=actor)
            alerts_deliver_inline(
                opened=report.opened,
                escalated=report.escalated,
                resolved=report.resolved,
                actor=actor,
            )
            if acting:
                heartbeats_prune()
    except DatabaseError as exc:
        logger.warning("%s %s: heartbeat not recorded (%s)", role, name, type(exc).__name__)
        return False
    finally:
        refresh_connection()
    return True


class WorkerHeartbeat(bootsteps.StartStopStep):
    """A worker bootstep: a daemon thread that beats every PORTAL_HEARTBEAT_SECONDS from the
    moment the worker starts until it stops. Its own thread, so a slow database or mail server
    never delays the worker's timers (ETA tasks, broker heartbeats)."""

    def __init__(self, worker, **kwargs) -> None:
        super().__init__(worker, **kwargs)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, worker) -> None:
        from django.conf import settings
        from django.utils import timezone

        from stats.liveness import Role

        name, started_at = worker.hostname, timezone.now()
        interval = settings.PORTAL_HEARTBEAT_SECONDS

        def run() -> None:
            while True:
                beat_once(role=Role.WORKER, name=name, started_at=started_at)
                if self._stop.wait(interval):
                    return

        self._stop.clear()
        self._thread = threading.Thread(target=run, name="portal-heartbeat", daemon=True)
        self._thread.start()

    def stop(self, parent) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # A cold shutdown (SIGQUIT, or an in-process worker told to terminate, as the browser tests'
    # worker is) sends "terminate", not "stop": the thread must end either way, or an in-process
    # worker's heartbeats would outlive it and vouch for a worker that is gone.
    shutdown = terminate = stop
