"""Celery tasks of bulk operations: run one in chunks, re-queue stalled ones."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from audit.context import Actor, bound
from tenants.models import CustomerOrg
from tenants.selectors import orgs_offboarding_due

from . import selectors, services
from .offboarding import org_offboard_run

logger = logging.getLogger(__name__)


@shared_task(
    name="operations.run",
    acks_late=True,
    autoretry_for=(OperationalError,),  # the database went away: try again, a few times
    max_retries=5,
    retry_backoff=True,
)
def run(operation_id: int) -> bool:
    """Process one chunk, then queue the next: a task never outlives its time limit, and a
    lost worker loses at most the item in flight (resumed by the next run)."""
    with bound(actor=Actor.system("bulk_operation")):
        more = services.bulk_operation_run(
            operation_id=operation_id, limit=settings.BULK_CHUNK_SIZE
        )
    if more:
        run.delay(operation_id)
    return more


@shared_task(name="operations.resume_stalled")
def resume_stalled() -> int:
    """Beat, every minute: re-queue unfinished operations whose runner is gone."""
    ids = selectors.bulk_operations_stalled()
    for pk in ids:
        run.delay(pk)
    if ids:
        logger.info("re-queued %d stalled bulk operations", len(ids))
    return len(ids)


@shared_task(name="operations.offboarding_sweep")
def offboarding_sweep() -> int:
    """Beat, every minute: queue the offboardings whose next attempt is due (after a failure's
    back-off, or stalled because their worker died)."""
    due = orgs_offboarding_due()
    for org_id in due:
        offboard_org.delay(org_id)
    return len(due)


# The name predates the move to the top floor: messages already queued under it still run.
@shared_task(name="tenants.offboard_org", acks_late=True)
def offboard_org(org_id: int) -> str:
    """Runs (or resumes) an offboarding; every step is idempotent, so a re-run is safe."""
    org = CustomerOrg.objects.get(pk=org_id)
    with bound(actor=Actor.system("offboard_org")):
        return org_offboard_run(org=org)
