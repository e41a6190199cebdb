"""Offboarding pages: confirm (type the org's name, choose disable or delete, give a reason),
watch the progress, retry what is left. The workflow itself is operations/offboarding.py."""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.roles import Perm
from core.queueing import enqueue_on_commit
from core.views import service_call
from tenants import selectors, services
from tenants.forms import OffboardForm
from tenants.models import CustomerOrg

from . import tasks

Status = CustomerOrg.Status


@require_GET
@permission_required(Perm.VIEW_PORTAL, raise_exception=True)
def org_offboard_progress(request, public_id: uuid.UUID):
    """htmx fragment, polled while an offboarding runs."""
    org = selectors.org_get_for_user(request.user, public_id)
    return render(request, "tenants/_offboard_progress.html", {"org": org})


@require_http_methods(["GET", "POST"])
@permission_required(Perm.OPERATE, raise_exception=True)
def org_offboard(request, public_id: uuid.UUID):
    org = selectors.org_get_for_user(request.user, public_id)
    if org.status in (Status.OFFBOARDING, Status.OFFBOARDED):
        messages.info(request, f"{org.name} is already {org.get_status_display().lower()}.")
        return redirect("tenants:org_detail", public_id=org.public_id)
    form = OffboardForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        with service_call(request, form=form) as call:
            org = services.org_offboard_start(
                org=org, confirm_name=d["confirm_name"], mode=d["mode"], reason=d["reason"]
            )
        if call.ok:
            enqueue_on_commit(tasks.offboard_org, org.pk)
            messages.success(request, f"Offboarding {org.name} started.")
            return redirect("tenants:org_detail", public_id=org.public_id)
    return render(request, "tenants/org_offboard.html", {"org": org, "form": form})


@require_POST
@permission_required(Perm.OPERATE, raise_exception=True)
def org_offboard_resume(request, public_id: uuid.UUID):
    org = selectors.org_get_for_user(request.user, public_id)
    if org.status == Status.OFFBOARDING:
        enqueue_on_commit(tasks.offboard_org, org.pk)
        messages.info(request, f"Resumed offboarding {org.name}.")
    else:
        messages.info(request, f"{org.name} is not being offboarded: nothing to resume.")
    return redirect("tenants:org_detail", public_id=org.public_id)
