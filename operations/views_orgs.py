"""The org list and the org page. They show each org's data sources and health and its audit
trail beside its tokens, so they sit above the apps (see `operations/orgs.py`); their URLs keep
their names in the `tenants` namespace (byods_portal/urls.py)."""

import uuid
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.roles import Perm
from core.cache import cached_aggregate
from core.pagination import CappedPaginator
from datasources import selectors as ds_selectors
from tenants import selectors
from tenants.models import CustomerOrg

from . import orgs as org_reads

Status = CustomerOrg.Status
DATASOURCES_PER_PAGE = 20


@require_GET
@permission_required(Perm.VIEW_PORTAL, raise_exception=True)
def org_list(request):
    search = request.GET.get("q", "").strip()
    status = request.GET.get("status", "")
    status = status if status in Status.values else ""
    sort = request.GET.get("sort", "name")
    # Offboarded orgs are history: left out unless asked for (the box, or their status pill).
    offboarded = request.GET.get("offboarded", "") == "1"
    # The status pills count every org: the dashboard's short-lived figure, shared. The list
    # counts at most CappedPaginator's cap (past that, "1000+"; search or a status narrows).
    counts = cached_aggregate("org-status", selectors.org_status_counts)
    page = CappedPaginator(
        selectors.org_list(search=search, status=status, sort=sort, hide_offboarded=not offboarded),
        50,
    ).get_page(request.GET.get("page"))
    # Each row's data source count and worst health: one grouped query for the page.
    health = ds_selectors.datasource_health_by_org(org.pk for org in page.object_list)
    rows = [
        (org, health.get(org.pk, {}).get("total", 0), ds_selectors.worst_health(health.get(org.pk)))
        for org in page.object_list
    ]
    params = {"q": search, "status": status, "sort": sort, "offboarded": "1" if offboarded else ""}
    return render(
        request,
        "tenants/org_list.html",
        {
            "page": page,
            "rows": rows,
            "search": search,
            "status": status,
            "sort": sort,
            "offboarded": offboarded,
            "page_query": urlencode({k: v for k, v in params.items() if v}),
            "statuses": [(v, label, counts[v]) for v, label in Status.choices],
            "aggregate_seconds": settings.PORTAL_AGGREGATE_CACHE_SECONDS,
        },
    )


@require_GET
@permission_required(Perm.VIEW_PORTAL, raise_exception=True)
def org_detail(request, public_id: uuid.UUID):
    org = selectors.org_get_for_user(request.user, public_id)
    now = timezone.now()
    datasources = Paginator(
        ds_selectors.datasource_list(org_public_id=org.public_id), DATASOURCES_PER_PAGE
    ).get_page(request.GET.get("page"))
    can_audit = request.user.has_perm(Perm.VIEW_AUDIT)
    return render(
        request,
        "tenants/org_detail.html",
        {
            "org": org,
            "token": getattr(org, "token", None),
            "now": now,
            "moved_on": org.app_moved_on,
            "deadlines": org_reads.org_deadlines(org, now=now),
            "datasources": datasources,
            "health_counts": _health_counts(org) if datasources.paginator.count else [],
            "events": org_reads.org_recent_events(org) if can_audit else None,
            "needs_reauthorization": org_reads.org_needs_reauthorization(org),
            "reauthorization_text": org_reads.reauthorization_text(org),
        },
    )


def _health_counts(org: CustomerOrg) -> list[tuple[str, str, int]]:
    """(health, label, count) of the org's data sources, the healths it has only (one query)."""
    counts = ds_selectors.datasource_health_counts(org_public_id=org.public_id)
    return [(value, label, counts[value]) for value, label in ds_selectors.HEALTH if counts[value]]
