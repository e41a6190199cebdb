"""Pages of the bulk flow: choose (on a list) -> preview -> confirm -> progress -> report.

Who may start an operation follows the single-target pages exactly (each kind's `perm` in
`operations.kinds`): rotate now needs EDIT_DATASOURCES, disable / enable / offboard need
OPERATE. Everyone with VIEW_PORTAL may watch operations and read their reports.
"""

import uuid
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.roles import Perm
from core.forms import add_service_errors
from core.queueing import enqueue_on_commit
from core.words import counted

from . import selectors, services, tasks
from .forms import ConfirmForm, SelectionForm
from .kinds import KINDS
from .models import BulkItem, BulkOperation

LIST_PAGES: dict[str, str] = {
    BulkOperation.TargetType.DATASOURCE: "datasources:list",
    BulkOperation.TargetType.ORG: "tenants:org_list",
}


def _require_kind(user, kind: str) -> None:
    if not services.bulk_kind_allowed(user, kind):
        raise PermissionDenied("Your role may not start this bulk action.")


def _back_to_list(request, form: SelectionForm):
    for errors in form.errors.values():
        messages.error(request, " ".join(str(e) for e in errors))
    target = form.data.get("target", "")
    return redirect(LIST_PAGES.get(target, "operations:list"))


def _preview_page(request, form: SelectionForm, preview, confirm: ConfirmForm, status=200):
    kind = KINDS[form.cleaned_data["kind"]]
    return render(
        request,
        "operations/preview.html",
        {
            "preview": preview,
            "kind_label": kind.label,
            "selection_form": form,
            "confirm": confirm,
            "destructive": kind.destructive,
            "warning": kind.warning,
            "list_url_name": LIST_PAGES[form.cleaned_data["target"]],
        },
        status=status,
    )


def _preview_or_back(request, form: SelectionForm):
    """The preview of a valid selection, or a redirect to its list with the reason."""
    try:
        return services.bulk_preview(
            kind=form.cleaned_data["kind"], selection=form.selection()
        ), None
    except ValidationError as exc:
        for errors in exc.message_dict.values():
            messages.error(request, " ".join(errors))
        return None, redirect(LIST_PAGES[form.cleaned_data["target"]])


@require_GET
@permission_required(Perm.EDIT_DATASOURCES, raise_exception=True)
def bulk_preview(request):
    form = SelectionForm(request.GET)
    if not form.is_valid():
        return _back_to_list(request, form)
    kind = form.cleaned_data["kind"]
    _require_kind(request.user, kind)
    preview, back = _preview_or_back(request, form)
    if back:
        return back
    return _preview_page(request, form, preview, ConfirmForm(kind=kind))


@require_POST
@permission_required(Perm.EDIT_DATASOURCES, raise_exception=True)
def bulk_start(request):
    form = SelectionForm(request.POST)
    if not form.is_valid():
        return _back_to_list(request, form)
    kind = form.cleaned_data["kind"]
    _require_kind(request.user, kind)
    preview, back = _preview_or_back(request, form)
    if back:
        return back
    confirm = ConfirmForm(request.POST, kind=kind, expected=preview.will_change)
    if confirm.is_valid():
        try:
            op = services.bulk_operation_start(
                kind=kind, selection=form.selection(), params=confirm.params(), user=request.user
            )
        except ValidationError as exc:
            add_service_errors(confirm, exc)
        else:
            enqueue_on_commit(tasks.run, op.pk)
            messages.success(request, f"Started: {op}. Progress is shown below.")
            return redirect("operations:detail", public_id=op.public_id)
    return _preview_page(request, form, preview, confirm, status=400)


@require_GET
@permission_required(Perm.VIEW_PORTAL, raise_exception=True)
def bulk_list(request):
    kind = request.GET.get("kind", "")
    kind = kind if kind in BulkOperation.Kind.values else ""
    state = request.GET.get("state", "")
    state = state if state in BulkOperation.State.values else ""
    page = Paginator(selectors.bulk_operation_list(kind=kind, state=state), 25).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "operations/list.html",
        {
            "page": page,
            "kind": kind,
            "state": state,
            "kinds": BulkOperation.Kind.choices,
            "states": BulkOperation.State.choices,
            "page_query": urlencode({k: v for k, v in (("kind", kind), ("state", state)) if v}),
        },
    )


@require_GET
@permission_required(Perm.VIEW_PORTAL, raise_exception=True)
def bulk_detail(request, public_id: uuid.UUID):
    op = selectors.bulk_operation_get(public_id)
    failures = Paginator(selectors.bulk_items(op, BulkItem.State.FAILED), 50).get_page(
        request.GET.get("page")
    )
    skipped = (
        selectors.bulk_items(op, BulkItem.State.SKIPPED)
        .values("reason")
        .annotate(n=Count("pk"))
        .order_by("-n", "reason")
    )
    return render(
        request,
        "operations/detail.html",
        {
            "op": op,
            "failures": failures,
            "skipped": skipped,
            "may_retry": services.bulk_kind_allowed(request.user, op.kind),
        },
    )


@require_GET
@permission_required(Perm.VIEW_PORTAL, raise_exception=True)
def bulk_progress(request, public_id: uuid.UUID):
    """htmx fragment, polled every second while the operation runs. When it is done, the
    whole page reloads once (`HX-Refresh`) to show the report."""
    op = selectors.bulk_operation_get(public_id)
    response = render(request, "operations/_progress.html", {"op": op})
    if op.state == BulkOperation.State.DONE and request.headers.get("HX-Request"):
        response["HX-Refresh"] = "true"
    return response


@require_POST
@permission_required(Perm.EDIT_DATASOURCES, raise_exception=True)
def bulk_retry(request, public_id: uuid.UUID):
    op = selectors.bulk_operation_get(public_id)
    _require_kind(request.user, op.kind)
    try:
        retry = services.bulk_operation_retry_failures(operation=op, user=request.user)
    except ValidationError as exc:
        for errors in exc.message_dict.values():
            messages.error(request, " ".join(errors))
        return redirect("operations:detail", public_id=op.public_id)
    enqueue_on_commit(tasks.run, retry.pk)
    messages.success(request, f"Retrying {counted(retry.total, 'failed item')}.")
    return redirect("operations:detail", public_id=retry.public_id)
