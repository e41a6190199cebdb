"""Reads for the dashboard, each one query whose cost does not follow the number of orgs
much: counts use indexed aggregates, lists are LIMITed through an index, charts read grouped
rows (expiries) or the hourly counter table (rotation outcomes)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count
from django.db.models.functions import TruncHour
from django.utils import timezone

from alerts.wording import deadline_words, duration_words
from datasources.models import DataSource
from datasources.selectors import health_conditions
from stats.counters import hour_start, rotation_outcomes_by_hour
from tenants.models import CustomerOrg, OrgToken

from .charts import Series, bar_chart


def orgs_to_reauthorize(*, limit: int = 10) -> list[CustomerOrg]:
    """Orgs whose admin must reauthorize, by name, through `org_status_idx` (status, name).
    (Failing token refreshes are alerts: see the open alerts beside this list.)"""
    return list(
        CustomerOrg.objects.select_related("owner", "token")
        .filter(status=CustomerOrg.Status.REAUTHORIZATION_REQUIRED)
        .order_by("name")[:limit]
    )


@dataclass(frozen=True)
class Deadline:
    ds: DataSource
    words: str  # "data stops flowing in 3 h 12 min"
    left: str  # "3 h 12 min"


def soonest_deadlines(*, now: dt.datetime, limit: int = 8) -> list[Deadline]:
    """The live data sources of active orgs whose JWS expires soonest (not yet expired: those
    are in the 'expired' count and in alerts). Walks `ds_expiry_idx` and stops at `limit`."""
    running = health_conditions(now)
    rows = (
        DataSource.objects.filter(deleted_at__isnull=True, token_expires_at__gt=now)
        .filter(running["healthy"] | running["due"] | running["at_risk"] | running["failing"])
        .select_related("org")
        .order_by("token_expires_at", "pk")[:limit]
    )
    return [
        Deadline(ds, deadline_words(expires_at, now), duration_words(expires_at - now))
        for ds in rows
        # The filter (token_expires_at__gt) keeps only rows with an expiry: the check only narrows.
        if (expires_at := ds.token_expires_at) is not None
    ]


def _per_hour(qs, field: str, start: dt.datetime) -> dict[dt.datetime, int]:
    grouped = (
        qs.annotate(slot=TruncHour(field, tzinfo=dt.UTC))
        .values("slot")
        .annotate(n=Count("pk"))
        .values_list("slot", "n")
    )
    return {hour_start(slot): n for slot, n in grouped if slot is not None}


def token_expiry_chart(*, now: dt.datetime):
    """Bars per hour for the next 24 hours: data source JWS and org access tokens expiring."""
    start = hour_start(now)
    end = start + dt.timedelta(hours=24)
    window = {"gte": now, "lt": end}
    jws = _per_hour(
        DataSource.objects.filter(
            deleted_at__isnull=True,
            status=DataSource.Status.ACTIVE,
            token_expires_at__gte=window["gte"],
            token_expires_at__lt=window["lt"],
        ),
        "token_expires_at",
        start,
    )
    org = _per_hour(
        OrgToken.objects.filter(
            destroyed_at__isnull=True,
            org__status=CustomerOrg.Status.ACTIVE,
            access_expires_at__gte=window["gte"],
            access_expires_at__lt=window["lt"],
        ),
        "access_expires_at",
        start,
    )
    slots = [start + dt.timedelta(hours=i) for i in range(24)]
    labels = [f"{s:%H}h" for s in slots]
    total_jws, total_org = sum(jws.values()), sum(org.values())
    return bar_chart(
        chart_id="chart-expiries",
        title="Token expiries over the next 24 hours",
        desc=(
            f"{total_jws} data source tokens and {total_org} org access tokens expire between "
            f"{start:%H:%M} and {end:%H:%M} UTC, per hour."
        ),
        labels=labels,
        series=[
            Series("data source JWS", [jws.get(s, 0) for s in slots], "chart-bar-info"),
            Series("org access tokens", [org.get(s, 0) for s in slots], "chart-bar-warn"),
        ],
        x_label="Hour (UTC)",
        y_label="Tokens expiring",
        tick_every=3,
    )


def rotation_chart(*, now: dt.datetime):
    """Bars per hour over the last 7 days: rotations that succeeded and that failed."""
    rows = rotation_outcomes_by_hour(hours=168, now=now)
    ok = [r[1] for r in rows]
    bad = [r[2] for r in rows]
    labels = [f"{r[0]:%a %H}h" for r in rows]
    first, last = rows[0][0], rows[-1][0] + dt.timedelta(hours=1)
    return bar_chart(
        chart_id="chart-rotations",
        title="Rotation outcomes per hour, last 7 days",
        desc=(
            f"{sum(ok)} rotations succeeded and {sum(bad)} failed between "
            f"{first:%Y-%m-%d %H:%M} and {last:%Y-%m-%d %H:%M} UTC."
        ),
        labels=labels,
        series=[
            Series("succeeded", ok, "chart-bar-ok"),
            Series("failed", bad, "chart-bar-bad"),
        ],
        x_label="Hour (UTC), ticks every 24 hours",
        y_label="Rotations",
        tick_every=24,
    )


def now() -> dt.datetime:
    return timezone.now()
