"""Pages for data sources. Views parse input, call one service, and show the outcome; the rules
live in `datasources.services` and `datasources.validation`."""

import contextlib
import uuid
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.roles import Perm
from core.cache import cached_aggregate
from core.pagination import CappedPaginator
from core.views import service_call
from tenants import selectors as tenant_selectors
from tenants.models import CustomerOrg

from . import selectors, services
from .forms import DataSourceForm, DeleteForm, DisableForm, MaintenanceForm
from .models import DataSource, DriftFinding

Status = DataSource.Status
ORG_MENU_LIMIT = 200


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (TypeError, ValueError):
        return None


def _payload(form) -> dict:
    """The data source fields of a valid DataSourceForm, as the services take them."""
    return {name: form.cleaned_data[name] for name in DataSourceForm.PAYLOAD}


def _plural(n: int) -> str:
    return f"{n} data source" if n == 1 else f"{n} data sources"


# ------------------------------------------------------------------------- reads
def _list_filters(request) -> tuple[str, uuid.UUID | None, str, str, str]:
    """The list's filters from the query string; an unknown value is no filter."""
    search = request.GET.get("q", "").strip()
    org_id = _uuid(request.GET.get("org", ""))
    status = request.GET.get("status", "")
    health = request.GET.get("health", "")
    sort = request.GET.get("sort", "")
    return (
        search,
        org_id,
        status if status in Status.values else "",
        health if health in selectors.HEALTH_VALUES else "",
        sort if sort.removeprefix("-") in selectors.SORTS else "",
    )


@require_GET
@permission_required(Perm.VIEW_PORTAL, raise_exception=True)
def datasource_list(request):
    search, org_id, status, health, sort = _list_filters(request)
    org = None
    if org_id:
        with contextlib.suppress(Http404):  # an unknown org simply matches nothing
            org = tenant_selectors.org_get_for_user(request.user, org_id)

    def query(**overrides) -> str:
        params = {"q": search, "org": org_id or "", "status": status, "health": health}
        params |= overrides
        return urlencode({k: v for k, v in params.items() if v})

    orgs = list(
        tenant_selectors.org_list()
        .select_related(None)
        .only("public_id", "name")[: ORG_MENU_LIMIT + 1]
    )
    page = CappedPaginator(
        selectors.datasource_list(
            org_public_id=org_id, status=status, health=health, search=search, sort=sort
        ),
        50,
    ).get_page(request.GET.get("page"))
    if org_id or status or search:
        counts = selectors.datasource_health_counts(
            org_public_id=org_id, status=status, search=search
        )
    else:  # the whole fleet: the dashboard's short-lived figure, shared
        counts = cached_aggregate("health", selectors.datasource_health_counts)
    return render(
        request,
        "datasources/datasource_list.html",
        {
            "page": page,
            "org": org,
            # The org menu lists at most ORG_MENU_LIMIT orgs (past that, the search box finds
            # orgs by name): a menu of every org made this page grow with the fleet.
            "orgs": orgs[:ORG_MENU_LIMIT],
            "orgs_capped": len(orgs) > ORG_MENU_LIMIT,
            "search": search,
            "status": status,
            "health": health,
            "sort": sort,
            "statuses": Status.choices,
            "health_pills": [
                (value, label, counts[value], query(health=value))
                for value, label in selectors.HEALTH
            ],
            "all_health_query": query(health=""),
            "filter_query": query(),
            "page_query": query(sort=sort),
            "filtered": bool(search or org_id or status or health),
            "next": request.get_full_path(),
            "now": timezone.now(),
        },
    )


@require_GET
@permission_required(Perm.VIEW_PORTAL, raise_exception=True)
def datasource_detail(request, public_id: uuid.UUID):
    ds = selectors.datasource_get_for_user(request.user, public_id)
    return render(
        request,
        "datasources/datasource_detail.html",
        {
            "ds": ds,
            "org": ds.org,
            "health": ds.health(),
            "health_reason": ds.not_flowing_reason,
            "history": selectors.datasource_history(ds),
            "now": timezone.now(),
        },
    )


# ------------------------------------------------------------------------- register / edit
@require_http_methods(["GET", "POST"])
@permission_required(Perm.EDIT_DATASOURCES, raise_exception=True)
def datasource_register(request, org_public_id: uuid.UUID):
    org = tenant_selectors.org_get_for_user(request.user, org_public_id)
    if org.status != CustomerOrg.Status.ACTIVE:
        messages.error(
            request,
            f"{org.name} is {org.get_status_display().lower()}: data sources can be registered "
            "only for active orgs.",
        )
        return redirect("tenants:org_detail", public_id=org.public_id)
    form = DataSourceForm(request.POST or None, org=org)
    if request.method == "POST" and form.is_valid():
        with service_call(request, form=form) as call:
            ds = services.datasource_register(org=org, **_payload(form))
        if call.ok:
            messages.success(request, f"Registered {ds.url} for {org.name} at Webex.")
            return redirect("datasources:detail", public_id=ds.public_id)
    return render(
        request, "datasources/datasource_form.html", {"org": org, "form": form, "ds": None}
    )


@require_http_methods(["GET", "POST"])
@permission_required(Perm.EDIT_DATASOURCES, raise_exception=True)
def datasource_edit(request, public_id: uuid.UUID):
    ds = selectors.datasource_get_for_user(request.user, public_id)
    initial = {
        "schema_id": ds.schema_id,
        "url": ds.url,
        "audience": ds.audience,
        "subject": ds.subject,
        "token_lifetime_minutes": ds.token_lifetime_minutes,
    }
    form = DataSourceForm(
        request.POST or None, org=ds.org, current_schema_id=ds.schema_id, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        version = ds.version
        with service_call(request, form=form) as call:
            ds = services.datasource_update(ds=ds, **_payload(form))
        if call.ok:
            if ds.version == version:  # the service sends nothing when nothing changed
                messages.info(request, f"Nothing changed in {ds.url}: nothing was sent to Webex.")
            else:
                messages.success(request, f"Saved {ds.url} at Webex.")
            return redirect("datasources:detail", public_id=ds.public_id)
    return render(
        request, "datasources/datasource_form.html", {"org": ds.org, "form": form, "ds": ds}
    )


# ------------------------------------------------------------------------- status
@require_http_methods(["GET", "POST"])
@permission_required(Perm.OPERATE, raise_exception=True)
def datasource_disable(request, public_id: uuid.UUID):
    ds = selectors.datasource_get_for_user(request.user, public_id)
    if ds.status == Status.DISABLED:
        messages.info(request, f"{ds.url} is already disabled.")
        return redirect("datasources:detail", public_id=ds.public_id)
    form = DisableForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with service_call(request, form=form) as call:
            ds = services.datasource_disable(ds=ds, message=form.cleaned_data["message"])
        if call.ok:
            messages.success(request, f"Disabled {ds.url}. Webex stops sending data to it.")
            return redirect("datasources:detail", public_id=ds.public_id)
    return render(request, "datasources/datasource_disable.html", {"ds": ds, "form": form})


@require_POST
@permission_required(Perm.OPERATE, raise_exception=True)
def datasource_enable(request, public_id: uuid.UUID):
    ds = selectors.datasource_get_for_user(request.user, public_id)
    if ds.status == Status.ACTIVE:
        messages.info(request, f"{ds.url} is already active.")
        return redirect("datasources:detail", public_id=ds.public_id)
    with service_call(request) as call:
        ds = services.datasource_enable(ds=ds)
    if call.ok:
        messages.success(request, f"Enabled {ds.url}. Webex sends data to it again.")
    return redirect("datasources:detail", public_id=ds.public_id)


@require_http_methods(["GET", "POST"])
@permission_required(Perm.OPERATE, raise_exception=True)
def datasource_delete(request, public_id: uuid.UUID):
    ds = selectors.datasource_get_for_user(request.user, public_id)
    form = DeleteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with service_call(request, form=form) as call:
            services.datasource_delete(ds=ds, reason=form.cleaned_data["reason"])
        if call.ok:
            messages.success(request, f"Deleted {ds.url} at Webex.")
            return redirect("tenants:org_detail", public_id=ds.org.public_id)
    return render(request, "datasources/datasource_delete.html", {"ds": ds, "form": form})


@require_http_methods(["GET", "POST"])
@permission_required(Perm.OPERATE, raise_exception=True)
def datasource_maintenance(request, public_id: uuid.UUID):
    ds = selectors.datasource_get_for_user(request.user, public_id)
    initial = {
        "disable_at": ds.maintenance_disable_at,
        "enable_at": ds.maintenance_enable_at,
        "message": ds.maintenance_message,
    }
    form = MaintenanceForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        with service_call(request, form=form) as call:
            ds = services.datasource_schedule_maintenance(
                ds=ds, disable_at=d["disable_at"], enable_at=d["enable_at"], message=d["message"]
            )
        if call.ok:
            messages.success(
                request,
                f"Maintenance scheduled for {ds.url}: disabled from "
                f"{ds.maintenance_disable_at:%Y-%m-%d %H:%M} to "
                f"{ds.maintenance_enable_at:%Y-%m-%d %H:%M} UTC.",
            )
            return redirect("datasources:detail", public_id=ds.public_id)
    return render(request, "datasources/datasource_maintenance.html", {"ds": ds, "form": form})


# ------------------------------------------------------------------------- rotation
@require_POST
@permission_required(Perm.EDIT_DATASOURCES, raise_exception=True)
def datasource_rotate(request, public_id: uuid.UUID):
    ds = selectors.datasource_get_for_user(request.user, public_id)
    result = services.datasource_rotate(ds_id=ds.pk, force=True, seen_version=ds.version)
    text = {
        "rotated": (messages.SUCCESS, f"Rotated the JWS of {ds.url}."),
        "in_progress": (messages.INFO, f"Not rotated again: {result.detail}."),
        "already_rotated": (messages.INFO, f"Not rotated again: {result.detail}."),
        "rate_limited": (
            messages.WARNING,
            f"Not rotated yet. {result.detail}",
        ),
        "failed": (messages.ERROR, f"Rotation failed: {result.detail}"),
        "paused": (messages.WARNING, f"Not rotated: {result.detail}; rotation is paused."),
        "missing": (
            messages.ERROR,
            f"Not rotated: the data source is gone at Webex. {result.detail}",
        ),
    }.get(result.outcome, (messages.INFO, f"Not rotated: {result.detail or 'nothing to do'}."))
    messages.add_message(request, *text)
    return redirect("datasources:detail", public_id=ds.public_id)


# ------------------------------------------------------------------------- drift
@require_GET
@permission_required(Perm.VIEW_PORTAL, raise_exception=True)
def drift_list(request, org_public_id: uuid.UUID):
    org = tenant_selectors.org_get_for_user(request.user, org_public_id)
    search = request.GET.get("q", "").strip()
    kind = request.GET.get("kind", "")
    kind = kind if kind in DriftFinding.Kind.values else ""
    sort = request.GET.get("sort", "-found_at")
    sort = sort if sort.removeprefix("-") in selectors.DRIFT_SORTS else "-found_at"
    open_findings, resolved = selectors.drift_findings(org, search=search, kind=kind, sort=sort)
    page = Paginator(open_findings, 50).get_page(request.GET.get("page"))
    filters = {k: v for k, v in {"q": search, "kind": kind}.items() if v}
    return render(
        request,
        "datasources/drift_list.html",
        {
            "org": org,
            "page": page,
            "open_findings": page.object_list,
            "resolved": resolved,
            "search": search,
            "kind": kind,
            "kinds": DriftFinding.Kind.choices,
            "sort": sort,
            "filtered": bool(filters),
            "filter_query": urlencode(filters),
            "page_query": urlencode(filters | {"sort": sort}),
            "now": timezone.now(),
        },
    )


@require_POST
@permission_required(Perm.ONBOARD_ORGS, raise_exception=True)
def drift_check(request, org_public_id: uuid.UUID):
    org = tenant_selectors.org_get_for_user(request.user, org_public_id)
    report = services.datasources_reconcile_org(org=org)
    messages.add_message(
        request, messages.SUCCESS if report.available else messages.ERROR, report.summary
    )
    return redirect("datasources:drift_list", org_public_id=org.public_id)


@require_POST
@permission_required(Perm.OPERATE, raise_exception=True)
def drift_resolve(request, public_id: uuid.UUID):
    finding = selectors.drift_finding_get(public_id)
    with service_call(request) as call:
        services.drift_resolve(
            finding=finding,
            resolution=request.POST.get("resolution", ""),
            reason=request.POST.get("reason", "").strip(),
        )
    if call.ok:
        messages.success(request, f"Resolved: {finding.resolution}.")
    return redirect("datasources:drift_list", org_public_id=finding.org.public_id)
