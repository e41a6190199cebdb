"""API for the audit trail: the filtered log (keyset pages), one event, the CSV export."""

from django.db import transaction
from django.http import Http404, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from accounts.roles import Perm
from core.api.filters import StrictFilterBackend, check_filter_values
from core.api.views import PortalViewSet

from ..export import csv_rows
from ..models import AuditEvent
from ..selectors import audit_events
from ..services import audit_record
from ..vocabulary import Action
from .filters import AuditEventFilter
from .pagination import AuditKeysetPagination
from .serializers import AuditEventSerializer

EVENT_EXAMPLE = {
    "id": "2a9c4e6f-1b3d-4f5a-8c7e-9d0b1a2c3e44",
    "occurred_at": "2026-11-23T09:00:00.123456Z",
    "actor_type": "api",
    "actor": "api:byods_1a2b3c4d",
    "action": "datasource.disabled",
    "target_type": "datasource",
    "target_id": "9d4f6b1e-2c3a-4b5d-8e7f-0a1b2c3d4e55",
    "target_label": "https://rx.byods.example.com/feed",
    "org_id": "0b7e3f5c-52a1-4c1e-8d7a-1e0c7c9a4b22",
    "summary": "Disabled https://rx.byods.example.com/feed",
    "reason": "Maintenance until 18:00 UTC",
    "outcome": "ok",
    "error": "",
    "tracking_id": "",
    "correlation_id": "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9",
    "changes": {"status": {"before": "active", "after": "disabled"}},
    "prev_hash": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "hash": "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752",
}


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data if isinstance(data, bytes | str) else str(data)


class AuditEventViewSet(PortalViewSet):
    serializer_class = AuditEventSerializer
    filter_backends = [StrictFilterBackend]
    filterset_class = AuditEventFilter
    pagination_class = AuditKeysetPagination
    perms = {"list": Perm.VIEW_AUDIT, "retrieve": Perm.VIEW_AUDIT, "export": Perm.EXPORT_AUDIT}

    def get_queryset(self):
        return AuditEvent.objects.all()

    @extend_schema(
        summary="The audit trail, newest first",
        description="Exact-match filters as on the audit page; keyset pages of 50 "
        "(follow `older` / `newer`).",
        tags=["audit"],
        examples=[
            OpenApiExample(
                "page",
                value=EVENT_EXAMPLE,
                response_only=True,
            )
        ],
    )
    def list(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        summary="One audit event",
        tags=["audit"],
        examples=[OpenApiExample("event", value=EVENT_EXAMPLE, response_only=True)],
    )
    def retrieve(self, request, id):
        event = AuditEvent.objects.filter(public_id=id).first()
        if event is None:
            raise Http404("No such audit event")
        return Response(self.get_serializer(event).data)

    @extend_schema(
        summary="Export the filtered audit trail as CSV",
        description="Streamed; the export itself is recorded in the audit trail.",
        tags=["audit"],
        filters=True,
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR,
                examples=[OpenApiExample("csv", value="occurred_at,public_id,actor_type,...\n")],
            )
        },
    )
    def export(self, request):
        # Every filter is checked before the first byte streams: once the 200 is sent, an
        # error can only cut the file short.
        flt = self.filterset_class(request.query_params, queryset=self.get_queryset())
        check_filter_values(flt)
        if not flt.is_valid():
            raise ValidationError(flt.errors)
        used = {k: v for k, v in request.query_params.items() if v}
        with transaction.atomic():
            audit_record(
                action=Action.AUDIT_EXPORTED,
                summary="Exported the audit trail as CSV (API)"
                + (f" (filter {used})" if used else ""),
                actor=self.actor(),
                changes={"filter": {"before": None, "after": used}},
            )
        response = StreamingHttpResponse(
            csv_rows(audit_events(flt.form.to_filter())), content_type="text/csv"
        )
        response["Content-Disposition"] = 'attachment; filename="audit-trail.csv"'
        return response

    def get_renderers(self):
        # By the route, not the action: a method the route lacks has no action, and still
        # answers 405 in JSON, not 404 for its `?format=csv`.
        if "export" in getattr(self, "action_map", {}).values():
            return [JSONRenderer(), CSVRenderer()]
        return super().get_renderers()
