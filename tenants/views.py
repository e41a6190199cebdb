"""Pages for customer orgs and Service Apps. Views parse input, call one service, and show
the outcome; the rules live in `tenants.services`."""

import uuid
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.roles import Perm
from core.views import service_call

from . import selectors, services
from .forms import OnboardForm, ServiceAppForm, TokenPasteForm
from .models import CustomerOrg

Status = CustomerOrg.Status


# ------------------------------------------------------------------------- orgs
@require_GET
@permission_required(Perm.VIEW_PORTAL, raise_exception=True)
def org_suggest(request):
    """Org names for a filter's suggestions (`<option>`s for a datalist, asked by htmx as one
    types; the audit log's org filter). At most 10, by name."""
    term = request.GET.get("org") or request.GET.get("q") or ""
    names = selectors.org_name_suggestions(term.replace("\x00", "")[:200])
    return render(request, "tenants/_org_suggestions.html", {"names": names})


# The org list and the org page: operations/views_orgs.py (they read data sources and the
# audit trail, which this app may not).


@require_http_methods(["GET", "POST"])
@permission_required(Perm.ONBOARD_ORGS, raise_exception=True)
def org_onboard(request):
    form = OnboardForm(request.POST or None, initial={"owner": request.user.pk})
    refused = ""
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        # Webex's refusal is shown above the form, not as a message: `refused`.
        with service_call(request, form=form, refusal=None) as call:
            org = services.org_onboard(
                app=d["service_app"],
                webex_org_id=d["webex_org_id"],
                name=d["name"],
                region=d["region"],
                owner=d["owner"],
            )
        if call.ok:
            messages.success(request, f"{org.name} is onboarded and its tokens are stored.")
            return redirect("tenants:org_detail", public_id=org.public_id)
        refused = call.refusal_message
    return render(request, "tenants/org_onboard.html", {"form": form, "refused": refused})


@require_http_methods(["GET", "POST"])
@permission_required(Perm.ONBOARD_ORGS, raise_exception=True)
def org_tokens_paste(request, public_id: uuid.UUID):
    org = selectors.org_get_for_user(request.user, public_id)
    form = TokenPasteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        with service_call(request, form=form, refusal="form") as call:
            services.org_tokens_paste(
                org=org,
                access_token=d["access_token"],
                refresh_token=d["refresh_token"],
                access_expires_at=d["access_expires_at"],
                refresh_expires_at=d["refresh_expires_at"],
            )
        if call.ok:
            messages.success(
                request,
                f"Webex accepted the pasted tokens: {org.name} is active and its authorized "
                "domains and schemas are recorded.",
            )
            return redirect("tenants:org_detail", public_id=org.public_id)
    return render(request, "tenants/org_tokens_paste.html", {"org": org, "form": form})


@require_POST
@permission_required(Perm.ONBOARD_ORGS, raise_exception=True)
def org_refresh(request, public_id: uuid.UUID):
    org = selectors.org_get_for_user(request.user, public_id)
    seen = getattr(getattr(org, "token", None), "version", None)
    result = services.org_tokens_refresh(org_id=org.pk, force=True, seen_version=seen)
    text = {
        "refreshed": (messages.SUCCESS, f"Refreshed the access token of {org.name}."),
        "already_refreshed": (
            messages.INFO,
            f"Not refreshed again: the access token of {org.name} was {result.detail}.",
        ),
        "skipped": (messages.WARNING, f"Not refreshed: {result.detail}."),
        "failed": (messages.ERROR, f"Refresh failed: {result.detail}"),
        "reauthorization_required": (messages.ERROR, result.detail),
    }.get(result.outcome, (messages.INFO, "Nothing to do."))
    messages.add_message(request, *text)
    return redirect("tenants:org_detail", public_id=org.public_id)


# ------------------------------------------------------------------------- Service Apps
@require_GET
@permission_required(Perm.VIEW_PORTAL, raise_exception=True)
def serviceapp_list(request):
    search = request.GET.get("q", "").strip()
    sort = request.GET.get("sort", "name")
    sort = sort if sort.removeprefix("-") in selectors.SERVICEAPP_SORTS else "name"
    page = Paginator(selectors.serviceapp_list(search=search, sort=sort), 50).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "tenants/serviceapp_list.html",
        {
            "page": page,
            "apps": page.object_list,
            "search": search,
            "sort": sort,
            "filter_query": urlencode({"q": search} if search else {}),
            "page_query": urlencode({k: v for k, v in {"q": search, "sort": sort}.items() if v}),
        },
    )


@require_GET
@permission_required(Perm.VIEW_PORTAL, raise_exception=True)
def serviceapp_detail(request, public_id: uuid.UUID):
    app = selectors.serviceapp_get(public_id)
    return render(
        request,
        "tenants/serviceapp_detail.html",
        {
            "app": app,
            "orgs": app.orgs.order_by("name")[:200],
            "webhook_url": _webhook_url(request),
        },
    )


@require_http_methods(["GET", "POST"])
@permission_required(Perm.OPERATE, raise_exception=True)
def serviceapp_create(request):
    form = ServiceAppForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with service_call(request, form=form) as call:
            app = services.serviceapp_create(**form.cleaned_data)
        if call.ok:
            messages.success(request, f"Added Service App {app.name}.")
            return redirect("tenants:serviceapp_detail", public_id=app.public_id)
    return render(request, "tenants/serviceapp_form.html", {"form": form})


@require_POST
@permission_required(Perm.OPERATE, raise_exception=True)
def serviceapp_register_webhooks(request, public_id: uuid.UUID):
    app = selectors.serviceapp_get(public_id)
    with service_call(request) as call:
        created = services.serviceapp_register_webhooks(app=app, target_url=_webhook_url(request))
    if call.ok:
        messages.success(request, f"Registered {len(created)} webhooks at Webex.")
    return redirect("tenants:serviceapp_detail", public_id=app.public_id)


@require_POST
@permission_required(Perm.ONBOARD_ORGS, raise_exception=True)
def serviceapp_reconcile(request, public_id: uuid.UUID):
    app = selectors.serviceapp_get(public_id)
    report = services.serviceapp_reconcile(app=app)
    level = messages.SUCCESS if report.available else messages.ERROR
    messages.add_message(request, level, report.summary)
    return redirect("tenants:serviceapp_detail", public_id=app.public_id)


def _webhook_url(request) -> str:
    base = settings.PORTAL_PUBLIC_URL.rstrip("/")
    path = reverse("webex_webhook")
    return f"{base}{path}" if base else request.build_absolute_uri(path)
