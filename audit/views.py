"""Audit trail pages: the filtered log, timelines, one event, and the streamed CSV export."""

import json
import re
import uuid

from django.contrib.auth.decorators import permission_required
from django.db import transaction
from django.http import Http404, QueryDict, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.roles import Perm

from .export import csv_rows
from .forms import AuditFilterForm
from .models import AuditEvent
from .selectors import AuditFilter, audit_events, audit_page
from .services import audit_record
from .vocabulary import Action

PAGE_SIZE = 50


def _cursor(request, name: str) -> int | None:
    value = request.GET.get(name, "")
    return int(value) if re.fullmatch(r"[0-9]{1,18}", value) else None


def _query_without_cursor(request, fixed: dict[str, str] | None = None) -> str:
    params: QueryDict = request.GET.copy()
    for key, value in (fixed or {}).items():
        params[key] = value
    params.pop("before", None)
    params.pop("after", None)
    return params.urlencode()


def _render_log(
    request,
    *,
    form,
    flt: AuditFilter | None,
    title: str,
    subtitle: str = "",
    fixed: dict[str, str] | None = None,
):
    """`fixed`: the filter a timeline page implies, carried into its export and paging links."""
    page = None
    if flt is not None:
        page = audit_page(
            audit_events(flt),
            before=_cursor(request, "before"),
            after=_cursor(request, "after"),
            size=PAGE_SIZE,
        )
    return render(
        request,
        "audit/log.html",
        {
            "form": form,
            "page": page,
            "title": title,
            "subtitle": subtitle,
            "query": _query_without_cursor(request, fixed),
            "now": timezone.now(),
            "filtered": bool(fixed)
            or any(v for k, v in request.GET.items() if k not in {"before", "after"}),
        },
    )


@require_GET
@permission_required(Perm.VIEW_AUDIT, raise_exception=True)
def audit_log(request):
    form = AuditFilterForm(request.GET or None)
    if request.GET and not form.is_valid():
        return _render_log(request, form=form, flt=None, title="Audit trail")
    flt = form.to_filter() if request.GET else AuditFilter()
    return _render_log(request, form=form, flt=flt, title="Audit trail")


@require_GET
@permission_required(Perm.VIEW_AUDIT, raise_exception=True)
def org_timeline(request, org_id: uuid.UUID):
    form = AuditFilterForm({"org": str(org_id)})
    form.is_valid()
    return _render_log(
        request,
        form=form,
        flt=AuditFilter(org_id=org_id),
        title="Org timeline",
        subtitle=f"Everything recorded for org {org_id}",
        fixed={"org": str(org_id)},
    )


@require_GET
@permission_required(Perm.VIEW_AUDIT, raise_exception=True)
def datasource_timeline(request, datasource_id: uuid.UUID):
    form = AuditFilterForm({"target_type": "datasource", "target_id": str(datasource_id)})
    form.is_valid()
    return _render_log(
        request,
        form=form,
        flt=AuditFilter(target_type="datasource", target_id=str(datasource_id)),
        title="Data source timeline",
        subtitle=f"Everything recorded for data source {datasource_id}",
        fixed={"target_type": "datasource", "target_id": str(datasource_id)},
    )


@require_GET
@permission_required(Perm.VIEW_AUDIT, raise_exception=True)
def event_detail(request, public_id: uuid.UUID):
    event = AuditEvent.objects.filter(public_id=public_id).first()
    if event is None:
        raise Http404("No such audit event")
    changes_json = json.dumps(event.changes, indent=2, sort_keys=True, ensure_ascii=False)
    return render(
        request, "audit/event_detail.html", {"event": event, "changes_json": changes_json}
    )


@require_GET
@permission_required(Perm.EXPORT_AUDIT, raise_exception=True)
def audit_export(request):
    """The filtered log as CSV, streamed row by row: a million events never sit in memory."""
    form = AuditFilterForm(request.GET or None)
    if request.GET and not form.is_valid():
        return _render_log(request, form=form, flt=None, title="Audit trail")
    flt = form.to_filter() if request.GET else AuditFilter()
    used = {k: v for k, v in request.GET.items() if v and k not in {"before", "after"}}
    with transaction.atomic():
        audit_record(
            action=Action.AUDIT_EXPORTED,
            summary="Exported the audit trail as CSV" + (f" (filter {used})" if used else ""),
            changes={"filter": {"before": None, "after": used}},
        )
    response = StreamingHttpResponse(csv_rows(audit_events(flt)), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="audit-trail.csv"'
    return response
