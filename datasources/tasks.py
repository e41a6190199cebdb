"""Celery tasks of the rotation engine: sweep, rotate in batches, maintenance windows.

Rotations are network-bound, so a batch task overlaps up to ROTATION_CONCURRENCY Webex calls
in threads; every rotation is still one service call with its own short transactions.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

from celery import shared_task
from celery.signals import worker_process_shutdown
from django.conf import settings
from django.db import close_old_connections, connection

from audit.context import Actor, bound

from . import services

logger = logging.getLogger(__name__)
T = TypeVar("T")
CONNECTION_CHECK_SECONDS = 10.0
SWITCH_INTERVAL = 0.001  # seconds


class RotationThreads:
    """The worker process's long-lived rotation threads.

    Each thread keeps its own database connection from one rotation and one batch to the next
    (a fresh PostgreSQL backend per rotation cost more CPU than the rotation itself). Django's
    rules still apply: CONN_MAX_AGE (0 closes after every rotation), and connections that saw
    an error or are past their age are checked and closed, at most every few seconds per
    thread and after any failure.
    """

    def __init__(self, size: int) -> None:
        # A thread whose Webex answer arrived waits for the GIL until the running thread
        # yields it: 5 ms by default, each time, while the batch's thread writes a group
        # (tens of milliseconds of Python). Every such wait delays the next call of that
        # thread, so a shorter interval keeps the calls going.
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
        self.size = size
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.threads = [
            threading.Thread(target=self._work, name=f"rotate-{i}", daemon=True)
            for i in range(size)
        ]
        for thread in self.threads:
            thread.start()

    def _work(self) -> None:
        checked = time.monotonic()
        persistent = settings.DATABASES["default"].get("CONN_MAX_AGE") != 0
        try:
            while (job := self.jobs.get()) is not None:
                future, call = job
                try:
                    future.set_result(call())
                except BaseException as exc:  # noqa: BLE001 - handed to the batch, re-raised there
                    future.set_exception(exc)
                    checked = 0.0
                if not persistent:
                    connection.close()
                elif time.monotonic() - checked >= CONNECTION_CHECK_SECONDS:
                    close_old_connections()
                    checked = time.monotonic()
        finally:
            connection.close()

    def submit(self, call: Callable[[], object]) -> Future:
        future: Future = Future()
        self.jobs.put((future, call))
        return future

    def stop(self) -> None:
        """Let every thread finish its current job, close its connection and exit."""
        for _ in self.threads:
            self.jobs.put(None)
        for thread in self.threads:
            thread.join(timeout=30)


_threads_lock = threading.Lock()
_threads: RotationThreads | None = None
_threads_pid: int | None = None


def rotation_threads() -> RotationThreads:
    """This process's rotation threads, started on first use (a forked child starts its own)."""
    global _threads, _threads_pid
    with _threads_lock:
        if _threads is None or _threads_pid != os.getpid():
            _threads = RotationThreads(settings.ROTATION_CONCURRENCY)
            _threads_pid = os.getpid()
        return _threads


@worker_process_shutdown.connect
def stop_rotation_threads(**_kwargs) -> None:
    """Close the rotation threads' database connections (worker shutdown, end of tests)."""
    global _threads
    with _threads_lock:
        if _threads is not None and _threads_pid == os.getpid():
            _threads.stop()
        _threads = None


@shared_task(name="datasources.rotation_sweep")
def rotation_sweep() -> int:
    """Beat, every 15 s: claim due data sources a batch at a time, each batch handed to a
    worker as soon as it is claimed (the first calls go out while the sweep claims the rest),
    up to ROTATION_SWEEP_LIMIT per sweep."""
    size, limit = settings.ROTATION_BATCH_SIZE, settings.ROTATION_SWEEP_LIMIT
    claimed = 0
    while claimed < limit:
        batch = services.datasource_claim_due(limit=min(size, limit - claimed))
        if batch:
            rotate_batch.delay(batch)
        claimed += len(batch)
        if len(batch) < size:
            break
    if claimed:
        logger.info("rotation sweep claimed %d data sources", claimed)
    return claimed


def _in_context(call: Callable[[], T], correlation) -> Callable[[], T]:
    """`call` with the batch's actor and correlation id bound in whichever thread runs it (a
    401 refresh in a call thread records an audit event of its own)."""

    def bound_call() -> T:
        with bound(actor=Actor.system("rotation"), correlation=correlation):
            return call()

    return bound_call


@shared_task(name="datasources.rotate_batch", acks_late=True)
def rotate_batch(ds_ids: list[int], force: bool = False) -> dict[str, int]:
    """Rotate a batch with up to ROTATION_CONCURRENCY calls in flight (this process's rotation
    threads make the calls; this task's thread does the batch's database work in groups of
    ROTATION_GROUP_SIZE).
    Safe to run twice: a data source already rotated is no longer due, and a pending nonce is
    reused. Every data source of the batch is attempted; an unexpected error is raised once
    all have been."""
    threads = rotation_threads()
    with bound(actor=Actor.system("rotation")) as correlation:
        outcomes, errors = services.datasources_rotate_many(
            ds_ids,
            force=force,
            actor=Actor.system("rotation"),
            submit=lambda call: threads.submit(_in_context(call, correlation)),
            in_flight=threads.size,
            group=settings.ROTATION_GROUP_SIZE,
        )
    if errors:
        raise errors[0]
    return outcomes


@shared_task(name="datasources.rotate_now")
def rotate_now(ds_ids: list[int]) -> dict[str, int]:
    """'Rotate now' for one data source, an org or a selection: forced, whatever is due."""
    return rotate_batch(ds_ids, force=True)


@shared_task(name="datasources.apply_maintenance")
def apply_maintenance() -> int:
    """Beat, every minute: open and close scheduled maintenance windows."""
    with bound(actor=Actor.system("maintenance")):
        return services.datasource_apply_maintenance()


@shared_task(name="datasources.reconcile_all")
def reconcile_all() -> int:
    """Beat, hourly: compare every active org's data sources at Webex with the portal's."""
    from tenants.models import CustomerOrg

    found = 0
    for org in CustomerOrg.objects.filter(status=CustomerOrg.Status.ACTIVE).select_related(
        "service_app"
    ):
        with bound(actor=Actor.system("reconcile_datasources")):
            report = services.datasources_reconcile_org(org=org)
        found += report.opened
        if not report.available:
            logger.warning("reconcile %s: %s", org.name, report.summary)
    return found
