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
class Attention:
    """One thing a person must look at, with the deadline that makes it urgent."""

    kind: str  # jws_lapsed | jws_at_risk | org_reauthorization | org_refresh_failing
    org: CustomerOrg
    deadline: dt.datetime | None  # when data stops (stopped) flowing; None: not known
    lapsed: bool  # the deadline has passed: data is not flowing now
    words: str  # "data stopped flowing 3 min ago" / "data stops flowing in 17 d"
    ds: DataSource | None = None

    @property
    def sort_key(self) -> tuple:
        # Lapsed first, then the nearest deadline; an unknown deadline last.
        far = dt.datetime.max.replace(tzinfo=dt.UTC)
        return (not self.lapsed, self.deadline or far)


def needs_attention(*, now: dt.datetime, limit: int = 10) -> list[Attention]:
    """What is lapsed, then what runs out soonest: lapsed and at-risk data source JWS, orgs
    whose admin must reauthorize and orgs whose token refresh keeps failing. Four LIMITed
    reads through indexes (ds_expiry_idx, org_status_idx), merged and ranked here: a JWS that
    lapsed a minute ago comes before a reauthorization due in 17 days."""
    running = health_conditions(now)
    items: list[Attention] = []
    datasources = DataSource.objects.filter(deleted_at__isnull=True).select_related("org__owner")
    for ds in datasources.filter(running["expired"]).order_by("token_expires_at", "pk")[:limit]:
        items.append(
            Attention("jws_lapsed", ds.org, ds.token_expires_at, True, _words(ds, now), ds)
        )
    for ds in datasources.filter(running["at_risk"]).order_by("token_expires_at", "pk")[:limit]:
        items.append(
            Attention("jws_at_risk", ds.org, ds.token_expires_at, False, _words(ds, now), ds)
        )
    orgs = CustomerOrg.objects.select_related("owner", "token")
    by_deadline = ("token__access_expires_at", "pk")
    reauthorize = orgs.filter(status=CustomerOrg.Status.REAUTHORIZATION_REQUIRED)
    failing = orgs.filter(status=CustomerOrg.Status.ACTIVE, token__consecutive_failures__gt=0)
    for kind, rows in (("org_reauthorization", reauthorize), ("org_refresh_failing", failing)):
        for org in rows.order_by(*by_deadline)[:limit]:
            token = getattr(org, "token", None)
            expires = token.access_expires_at if token and token.destroyed_at is None else None
            lapsed = expires is not None and expires <= now
            items.append(Attention(kind, org, expires, lapsed, deadline_words(expires, now)))
    return sorted(items, key=lambda item: item.sort_key)[:limit]


def _words(ds: DataSource, now: dt.datetime) -> str:
    return deadline_words(ds.token_expires_at, now)


@dataclass(frozen=True)
class Deadline:
    ds: DataSource
    words: str  # "data stops flowing in 3 h 12 min" / "lapsed 3 min ago"
    left: str  # "3 h 12 min"
    lapsed: bool = False


def soonest_deadlines(*, now: dt.datetime, limit: int = 8, lapsed_limit: int = 5) -> list[Deadline]:
    """The live data sources of active orgs whose JWS lapsed (at the top, the longest
    lapsed first, at most `lapsed_limit`: the dashboard's "Expired" count links to them all),
    then those that expire soonest. Two walks of `ds_expiry_idx`, each stopping at its LIMIT."""
    running = health_conditions(now)
    alive = DataSource.objects.filter(deleted_at__isnull=True).select_related("org")
    lapsed = alive.filter(running["expired"]).order_by("token_expires_at", "pk")[:lapsed_limit]
    upcoming = (
        alive.filter(token_expires_at__gt=now)
        .filter(running["healthy"] | running["due"] | running["at_risk"] | running["failing"])
        .order_by("token_expires_at", "pk")[:limit]
    )
    rows = [
        Deadline(ds, f"lapsed {duration_words(now - expires_at)} ago", "0 s", lapsed=True)
        for ds in lapsed
        if (expires_at := ds.token_expires_at) is not None
    ]
    return rows + [
        Deadline(ds, deadline_words(expires_at, now), duration_words(expires_at - now))
        for ds in upcoming
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
