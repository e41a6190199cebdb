"""Celery tasks of the rotation engine: sweep, rotate in batches, maintenance windows.

Rotations are network-bound, so a batch task overlaps up to ROTATION_CONCURRENCY Webex calls
in threads; every rotation is still one service call with its own short transactions.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from celery import shared_task
from django.conf import settings
from django.db import close_old_connections, connection

from audit.context import Actor, bound

from . import services

logger = logging.getLogger(__name__)


@shared_task(name="datasources.rotation_sweep")
def rotation_sweep() -> int:
    """Beat, every 15 s: claim due data sources and hand them to batch tasks."""
    claimed = services.datasource_claim_due(
        limit=settings.ROTATION_SWEEP_LIMIT, lease_seconds=settings.ROTATION_LEASE_SECONDS
    )
    size = settings.ROTATION_BATCH_SIZE
    for start in range(0, len(claimed), size):
        rotate_batch.delay(claimed[start : start + size])
    if claimed:
        logger.info("rotation sweep claimed %d data sources", len(claimed))
    return len(claimed)


def _rotate_one(ds_id: int, force: bool, correlation) -> str:
    try:
        with bound(actor=Actor.system("rotation"), correlation=correlation):
            return services.datasource_rotate(ds_id=ds_id, force=force).outcome
    finally:
        close_old_connections()
        connection.close()  # each pool thread has its own connection: give it back


@shared_task(name="datasources.rotate_batch", acks_late=True)
def rotate_batch(ds_ids: list[int], force: bool = False) -> dict[str, int]:
    """Rotate a batch with up to ROTATION_CONCURRENCY calls in flight. Safe to run twice: a
    data source already rotated is no longer due, and a pending nonce is reused."""
    outcomes: dict[str, int] = {}
    with bound(actor=Actor.system("rotation")) as correlation:
        workers = min(settings.ROTATION_CONCURRENCY, max(1, len(ds_ids)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rotate") as pool:
            for outcome in pool.map(lambda pk: _rotate_one(pk, force, correlation), ds_ids):
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
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
