"""Reads for alerts and alert channels. Views look them up only through these."""

from __future__ import annotations

import uuid

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from .models import Alert, AlertChannel, Kind
from .presentation import ALERT_RELATED, present_many


def alert_list(
    *,
    state: str = "open",
    kind: str = "",
    search: str = "",
    org_public_id: uuid.UUID | None = None,
) -> QuerySet[Alert]:
    """Alerts newest first (open ones by default), with everything a list row shows."""
    qs = Alert.objects.select_related(*ALERT_RELATED)
    if state != "all":
        qs = qs.filter(resolved_at__isnull=True)
    if org_public_id:
        qs = qs.filter(org__public_id=org_public_id)
    if kind in Kind.values:
        qs = qs.filter(kind=kind)
    if search:
        term = search.strip()
        qs = qs.filter(Q(org__name__icontains=term) | Q(summary__icontains=term))
    return qs.order_by("-opened_at", "-id")


def alerts_open(limit: int = 10) -> list[Alert]:
    """For the dashboard: the newest open alerts (one row per episode, so deduplicated), each
    with `shown`: how it reads now (alerts.presentation: headline, severity, owner...)."""
    alerts = list(alert_list(state="open")[:limit])
    shown = present_many(alerts)
    for alert in alerts:
        alert.shown = shown[alert.pk]  # type: ignore[attr-defined]
    return alerts


OPEN_COUNT_CAP = 1000


def alert_open_count(*, cap: int = OPEN_COUNT_CAP) -> tuple[int, bool]:
    """How many alerts are open, counted up to `cap`: (cap, True) means more than `cap`.

    Live, unlike the fleet aggregates, and bounded like the lists' CappedPaginator: an exact
    count read every open row (tens of thousands on a bad day at a million data sources)."""
    n = Alert.objects.filter(resolved_at__isnull=True).order_by()[: cap + 1].count()
    return min(n, cap), n > cap


def alert_get_for_user(user, public_id: uuid.UUID) -> Alert:
    if not user.is_authenticated:
        raise Http404
    alert = Alert.objects.select_related(*ALERT_RELATED).filter(public_id=public_id).first()
    if alert is None:
        raise Http404("No such alert")
    return alert


def alertchannel_list() -> QuerySet[AlertChannel]:
    return AlertChannel.objects.order_by("team")


def alertchannel_get(public_id: uuid.UUID) -> AlertChannel:
    channel = AlertChannel.objects.filter(public_id=public_id).first()
    if channel is None:
        raise Http404("No such channel")
    return channel


def alert_open_counts_by_kind() -> dict[tuple[str, str], int]:
    """(kind, severity) -> open alerts (/metrics); one GROUP BY over the open episodes only.
    Severity is each episode's own (it follows the deadline), not a fixed one per kind."""
    return {
        (kind, severity): n
        for kind, severity, n in Alert.objects.filter(resolved_at__isnull=True)
        .order_by()
        .values("kind", "severity")
        .annotate(n=Count("pk"))
        .values_list("kind", "severity", "n")
    }
