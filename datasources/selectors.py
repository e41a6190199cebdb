"""Reads for data sources. Views look data sources up only through these guards.

Soft-deleted data sources (`deleted_at` set) are in no list and open no page: their rows stay
only to keep the nonce history.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from django.db import connection
from django.db.models import (
    Count,
    DateTimeField,
    Exists,
    Expression,
    ExpressionWrapper,
    F,
    JSONField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Greatest
from django.http import Http404
from django.utils import timezone

from core import policy as rules
from tenants.models import CustomerOrg

from .models import FLOW_FIELDS, DataSource, DriftFinding, NonceRecord

# The values of `DataSource.health()`, in its order of precedence, with their labels.
HEALTH: list[tuple[str, str]] = [
    ("healthy", "Healthy"),
    ("due", "Rotation due"),
    ("at_risk", "At risk"),
    ("failing", "Failing"),
    ("paused", "Paused"),
    ("disabled", "Disabled"),
    ("expired", "Expired"),
    ("missing", "Missing at Webex"),
    ("not_flowing", "Not flowing"),
]
HEALTH_VALUES = frozenset(value for value, _ in HEALTH)
HEALTH_LABELS = dict(HEALTH)
SORTS = frozenset(
    {
        "org__name",
        "url",
        "status",
        "schema_id",
        "token_expires_at",
        "next_rotation_at",
        "consecutive_failures",
    }
)


def _alive() -> QuerySet[DataSource]:
    return DataSource.objects.filter(deleted_at__isnull=True)


def datasource_get_for_user(
    user, public_id: uuid.UUID, *, with_deleted: bool = False
) -> DataSource:
    """The one guard for data source lookups by public id (404 when missing or deleted).
    `with_deleted` finds a deleted one too, for writes to answer "already deleted"."""
    if not user.is_authenticated:
        raise Http404
    rows = DataSource.objects.all() if with_deleted else _alive()
    ds = rows.select_related("org__service_app").filter(public_id=public_id).first()
    if ds is None:
        raise Http404("No such data source")
    return ds


def datasource_pks_for_user(user, public_ids: Iterable[uuid.UUID]) -> list[int]:
    """Internal ids of the given (live) data sources; unknown or deleted ones are left out."""
    if not user.is_authenticated:
        return []
    return list(
        _alive().filter(public_id__in=list(public_ids)).order_by("pk").values_list("pk", flat=True)
    )


def datasource_history(ds: DataSource, limit: int = 50) -> QuerySet[NonceRecord]:
    """The latest nonces sent for a data source (registration, rotations, edits)."""
    return ds.nonces.all()[:limit]


def _flow_stopping_findings() -> QuerySet[DriftFinding]:
    """Open drift findings of the outer data source that stop its data (models.stops_flow)."""
    stops = Q(details__status__webex=DataSource.Status.DISABLED) | Q(
        details__has_any_keys=list(FLOW_FIELDS)
    )
    return DriftFinding.objects.filter(
        stops,
        datasource_id=OuterRef("pk"),
        resolved_at__isnull=True,
        kind=DriftFinding.Kind.DIFFERS,
    )


def with_webex_drift(qs: QuerySet[DataSource]) -> QuerySet[DataSource]:
    """Annotate `webex_drift` (the open "differs" finding's details), which
    `DataSource.not_flowing_reason` and `health()` read instead of a query per row."""
    finding = DriftFinding.objects.filter(
        datasource_id=OuterRef("pk"), resolved_at__isnull=True, kind=DriftFinding.Kind.DIFFERS
    ).values("details")[:1]
    return qs.annotate(webex_drift=Subquery(finding, output_field=JSONField()))


def datasource_health(ds: DataSource, now: dt.datetime | None = None) -> tuple[str, str]:
    """(health value, its words) of one data source, as every page and the API show it:
    ("not_flowing", "Not flowing: disabled at Webex"), ("at_risk", "At risk") ..."""
    value = ds.health(now)
    label = HEALTH_LABELS[value]
    if value == "not_flowing":
        label = f"{label}: {ds.not_flowing_reason}"
    return value, label


def health_conditions(now: dt.datetime | None = None) -> dict[str, Q]:
    """One Q per health value, mutually exclusive, with the precedence of `DataSource.health()`."""
    now = now or timezone.now()
    # at_risk (core.policy.is_at_risk): expires - now < max(lifetime * share, floor).
    p = rules.policy()
    if connection.vendor == "postgresql":  # interval arithmetic in SQL: no extra query
        window: Expression = F("token_lifetime_minutes") * Value(
            dt.timedelta(minutes=p.at_risk_share)
        )
        if p.at_risk_floor:
            window = Greatest(window, Value(p.at_risk_floor))
        bound = ExpressionWrapper(Value(now) + window, output_field=DateTimeField())
        at_risk_bound = Q(token_expires_at__lt=bound)
    else:
        # SQLite cannot multiply a number by a duration, so the bound is spelled out per
        # lifetime in use (a handful of distinct values in practice). order_by(): without it
        # the model's default ordering joins the DISTINCT (one term per row, not per value).
        lifetimes = (
            DataSource.objects.order_by()
            .values_list("token_lifetime_minutes", flat=True)
            .distinct()
        )
        at_risk_bound = Q(pk__in=[])
        for minutes in lifetimes:
            limit = now + rules.at_risk_window(minutes, p)
            at_risk_bound |= Q(token_lifetime_minutes=minutes, token_expires_at__lt=limit)
    active = Q(status=DataSource.Status.ACTIVE)
    present = active & Q(missing_at_webex_since__isnull=True)
    stopped = present & Q(Exists(_flow_stopping_findings()))
    present = present & ~Q(Exists(_flow_stopping_findings()))
    running = present & Q(org__status=CustomerOrg.Status.ACTIVE)
    unexpired = running & (Q(token_expires_at__isnull=True) | Q(token_expires_at__gt=now))
    at_risk = unexpired & Q(token_expires_at__isnull=False) & at_risk_bound
    safe = unexpired & ~(Q(token_expires_at__isnull=False) & at_risk_bound)
    steady = safe & Q(consecutive_failures=0)
    return {
        "disabled": Q(status=DataSource.Status.DISABLED),
        "missing": active & Q(missing_at_webex_since__isnull=False),
        "not_flowing": stopped,
        "paused": present & ~Q(org__status=CustomerOrg.Status.ACTIVE),
        "expired": running & Q(token_expires_at__lte=now),
        "at_risk": at_risk,
        "failing": safe & Q(consecutive_failures__gt=0),
        "due": steady & Q(next_rotation_at__lte=now),
        "healthy": steady & (Q(next_rotation_at__isnull=True) | Q(next_rotation_at__gt=now)),
    }


def _filtered(*, org_public_id=None, status: str = "", search: str = "") -> QuerySet[DataSource]:
    qs = _alive().select_related("org")
    if org_public_id:
        qs = qs.filter(org__public_id=org_public_id)
    if status:
        qs = qs.filter(status=status)
    if search:
        term = search.strip()
        qs = qs.filter(
            Q(url__icontains=term)
            | Q(audience__icontains=term)
            | Q(subject__icontains=term)
            | Q(org__name__icontains=term)
        )
    return qs


def datasource_list(
    *,
    org_public_id: uuid.UUID | None = None,
    status: str = "",
    health: str = "",
    search: str = "",
    sort: str = "",
) -> QuerySet[DataSource]:
    """Live data sources with their org, filtered, searched and sorted (unknown values of
    `status`, `health` and `sort` are ignored)."""
    status = status if status in DataSource.Status.values else ""
    qs = with_webex_drift(_filtered(org_public_id=org_public_id, status=status, search=search))
    if health in HEALTH_VALUES:
        qs = qs.filter(health_conditions()[health])
    field = sort.removeprefix("-")
    if field in SORTS:
        return qs.order_by(sort, "org__name", "url", "pk")
    return qs.order_by("org__name", "url", "pk")


def datasource_health_counts(
    *, org_public_id: uuid.UUID | None = None, status: str = "", search: str = ""
) -> dict[str, int]:
    """How many data sources have each health, within the other filters (one query)."""
    status = status if status in DataSource.Status.values else ""
    qs = _filtered(org_public_id=org_public_id, status=status, search=search)
    conditions = health_conditions()
    return qs.aggregate(**{name: Count("pk", filter=q) for name, q in conditions.items()})


DRIFT_SORTS = ("found_at", "kind")


def drift_findings(
    org, *, search: str = "", kind: str = "", sort: str = "-found_at"
) -> tuple[QuerySet, list]:
    """(open findings, the 20 most recently resolved) of an org; `search` matches the Webex id
    or the data source URL, `kind` one DriftFinding.Kind."""
    from .models import DriftFinding

    base = DriftFinding.objects.filter(org=org).select_related("datasource")
    open_findings = base.filter(resolved_at=None)
    if search:
        open_findings = open_findings.filter(
            Q(webex_id__icontains=search.strip()) | Q(datasource__url__icontains=search.strip())
        )
    if kind in DriftFinding.Kind.values:
        open_findings = open_findings.filter(kind=kind)
    sort = sort if sort.removeprefix("-") in DRIFT_SORTS else "-found_at"
    return (
        open_findings.order_by(sort, "pk"),
        list(base.exclude(resolved_at=None).order_by("-resolved_at")[:20]),
    )


def drift_finding_get(public_id):
    from .models import DriftFinding

    finding = (
        DriftFinding.objects.select_related("org__service_app", "datasource")
        .filter(public_id=public_id)
        .first()
    )
    if finding is None:
        raise Http404("No such finding")
    return finding


def datasource_soonest_expiry(*, org: CustomerOrg | None = None) -> dt.datetime | None:
    """When the first JWS that Webex should be using lapses (active data sources of active
    orgs, present at Webex); in the past when one already has. Walks ds_expiry_idx from its
    start, so it reads a handful of rows whatever the fleet's size.

    `org`: that org's only, whatever the org's status: while an org must reauthorize its
    rotation waits, so its JWS lapsing is the deadline that matters most."""
    rows = _alive().filter(
        status=DataSource.Status.ACTIVE,
        missing_at_webex_since__isnull=True,
        token_expires_at__isnull=False,
    )
    if org is not None:
        rows = rows.filter(org=org)
    else:
        rows = rows.filter(org__status=CustomerOrg.Status.ACTIVE)
    return (
        rows.order_by("token_expires_at", "id").values_list("token_expires_at", flat=True).first()
    )


# The order in which an org's worst data source health is told: what stops data first.
WORST_FIRST = (
    "expired",
    "missing",
    "not_flowing",
    "at_risk",
    "failing",
    "disabled",
    "paused",
    "due",
    "healthy",
)


def datasource_health_by_org(org_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """{org pk: {"total": n, <health>: n, ...}} for the given orgs' live data sources: one
    grouped query for a page of orgs (the org list), never one per org."""
    ids = list(org_ids)
    if not ids:
        return {}
    conditions = health_conditions()
    rows = (
        _alive()
        .filter(org_id__in=ids)
        .order_by()
        .values("org_id")
        .annotate(total=Count("pk"), **{h: Count("pk", filter=q) for h, q in conditions.items()})
    )
    names = ["total", *conditions]
    out: dict[int, dict[str, int]] = {}
    for row in rows:
        values: dict = dict(row)  # the annotations' names are built at run time
        out[values["org_id"]] = {name: values[name] for name in names}
    return out


def worst_health(counts: dict[str, int] | None) -> str:
    """The worst health among an org's data sources ("" when it has none)."""
    for health in WORST_FIRST:
        if counts and counts.get(health):
            return health
    return ""
