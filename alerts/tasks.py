"""Celery tasks for alerts: evaluate every minute (beat), deliver each episode's notices."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.db.models import Q
from django.utils import timezone

from audit.context import Actor, bound
from core.queueing import enqueue_on_commit

from . import services
from .models import Alert

logger = logging.getLogger(__name__)
REQUEUE_AFTER = dt.timedelta(minutes=5)  # older unsent notices are queued again by the beat


class DeliveryIncomplete(Exception):
    """Some notices were not sent (receiver down, mail refused): retry the task later."""


@shared_task(name="alerts.evaluate")
def evaluate() -> dict[str, int]:
    """Beat, every minute: match alerts to the current conditions, queue their notices, and
    queue again the notices of older episodes whose delivery gave up (a safety net)."""
    with bound(actor=Actor.system("alerts.evaluate")):
        report = services.alerts_evaluate()
    for pk in report.opened:
        enqueue_on_commit(deliver, pk, "opened")
    for pk in report.escalated:
        enqueue_on_commit(deliver, pk, "escalated")
    for pk in report.resolved:
        enqueue_on_commit(deliver, pk, "resolved")
    stale = timezone.now() - REQUEUE_AFTER
    late = Alert.objects.filter(
        Q(notified_at__isnull=True, opened_at__lt=stale)
        | Q(escalated_at__lt=stale, escalation_notified_at__isnull=True)
        | Q(resolved_at__lt=stale, resolution_notified_at__isnull=True)
    ).values_list("pk", "notified_at", "escalated_at", "escalation_notified_at")[:100]
    for pk, notified_at, escalated_at, escalation_notified_at in late:
        if notified_at is None:
            event = "opened"
        elif escalated_at is not None and escalation_notified_at is None:
            event = "escalated"
        else:
            event = "resolved"
        enqueue_on_commit(deliver, pk, event)
    return {
        "opened": len(report.opened),
        "touched": report.touched,
        "escalated": len(report.escalated),
        "resolved": len(report.resolved),
    }


@shared_task(
    name="alerts.deliver",
    bind=True,
    autoretry_for=(DeliveryIncomplete,),
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=5,
)
def deliver(self, alert_id: int, event: str) -> dict[str, int]:
    """Send one episode's opening, escalation or resolution; unsent notices make the task
    retry. Sent ones are never sent again (see `alert_deliver`)."""
    alert = Alert.objects.filter(pk=alert_id).first()
    if alert is None:
        return {"sent": 0, "failed": 0, "pending": 0}
    with bound(actor=Actor.system("alerts.deliver")):
        report = services.alert_deliver(alert=alert, event=event)
    if not report.complete:
        raise DeliveryIncomplete(f"{report.failed} failed, {report.pending} held elsewhere")
    return {"sent": report.sent, "failed": report.failed, "pending": report.pending}
