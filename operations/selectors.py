"""Reads for bulk operations: the targets a selection names, the operation pages."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from datasources import selectors as ds_selectors
from datasources.models import DataSource
from tenants import selectors as tenant_selectors
from tenants.models import CustomerOrg

from .models import BulkItem, BulkOperation

TargetType = BulkOperation.TargetType

# The list filters a selection "everything matching" may carry, per target type.
FILTERS: dict[str, tuple[str, ...]] = {
    TargetType.DATASOURCE: ("q", "org", "status", "health"),
    TargetType.ORG: ("q", "status", "offboarded"),
}


@dataclass(frozen=True)
class Selection:
    """What the user chose on a list: the checked rows, or (`all_matching`) every row the
    list's current filters match, however many pages that is."""

    target_type: str
    public_ids: tuple[uuid.UUID, ...] = ()
    all_matching: bool = False
    filters: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        noun = TargetType(self.target_type).label.lower()
        if not self.all_matching:
            n = len(self.public_ids)
            one = {TargetType.DATASOURCE: "data source", TargetType.ORG: "org"}[
                TargetType(self.target_type)
            ]
            return f"{n} selected {one if n == 1 else noun}"
        shown = ", ".join(f"{k}={v}" for k, v in sorted(self.filters.items()) if v)
        return f"all {noun} matching {shown}" if shown else f"all {noun}"


def _uuid(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


def bulk_targets(selection: Selection) -> QuerySet:
    """The live targets of a selection, in a stable order (unknown ids simply match nothing)."""
    f = selection.filters
    if selection.target_type == TargetType.DATASOURCE:
        if selection.all_matching:
            return ds_selectors.datasource_list(
                org_public_id=_uuid(f.get("org")),
                status=f.get("status", ""),
                health=f.get("health", ""),
                search=f.get("q", ""),
            ).select_related("org")
        return (
            DataSource.objects.filter(deleted_at__isnull=True, public_id__in=selection.public_ids)
            .select_related("org")
            .order_by("org__name", "url", "pk")
        )
    if selection.target_type == TargetType.ORG:
        if selection.all_matching:
            status = f.get("status", "")
            return tenant_selectors.org_list(
                search=f.get("q", ""),
                status=status if status in CustomerOrg.Status.values else "",
                # as the org list shows them: offboarded orgs only when it shows them
                hide_offboarded=f.get("offboarded") != "1",
            )
        return CustomerOrg.objects.filter(public_id__in=selection.public_ids).order_by("name", "pk")
    raise ValueError(f"unknown target type {selection.target_type!r}")


def bulk_item_targets(selection: Selection, item_type: str) -> QuerySet:
    """What the items are made of: the selected rows themselves or, when a data source action
    is chosen on orgs, the live data sources of the selected orgs."""
    if item_type == selection.target_type:
        return bulk_targets(selection)
    if item_type == TargetType.DATASOURCE and selection.target_type == TargetType.ORG:
        orgs = bulk_targets(selection).order_by().values("pk")
        return (
            DataSource.objects.filter(deleted_at__isnull=True, org__in=orgs)
            .select_related("org")
            .order_by("org__name", "url", "pk")
        )
    raise ValueError(f"{item_type} items cannot come from a selection of {selection.target_type}")


def bulk_operation_get(public_id: uuid.UUID) -> BulkOperation:
    op = (
        BulkOperation.objects.select_related("created_by", "retry_of")
        .filter(public_id=public_id)
        .first()
    )
    if op is None:
        raise Http404("No such bulk operation")
    return op


def bulk_operation_list(*, kind: str = "", state: str = "") -> QuerySet[BulkOperation]:
    """Most recent first; unknown `kind` / `state` values are ignored."""
    qs = BulkOperation.objects.select_related("created_by")
    if kind in BulkOperation.Kind.values:
        qs = qs.filter(kind=kind)
    if state in BulkOperation.State.values:
        qs = qs.filter(state=state)
    return qs.order_by("-created_at", "-pk")


def bulk_items(op: BulkOperation, state: str = "") -> QuerySet[BulkItem]:
    qs = op.items.all()
    return qs.filter(state=state) if state else qs


def bulk_operations_stalled(*, now=None, min_age_seconds: int = 60) -> list[int]:
    """Unfinished operations nobody holds (a lost worker, a lost message): to re-queue.
    Uses the partial index `bulkop_unfinished_idx`."""
    now = now or timezone.now()
    return list(
        BulkOperation.objects.exclude(state=BulkOperation.State.DONE)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .filter(created_at__lt=now - dt.timedelta(seconds=min_age_seconds))
        .order_by("pk")
        .values_list("pk", flat=True)[:100]
    )
