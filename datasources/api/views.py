"""API for data sources. Each action validates with the page's form, calls one service and
answers; the rules live in `datasources.services` and `datasources.validation`."""

import uuid

from django.http import Http404
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.roles import Perm
from core.api.errors import Conflict
from core.api.filters import StrictFilterBackend
from core.api.schema import error_example, example
from core.api.serializers import TEXT_PATTERN, check_json, check_text, text_field
from core.api.views import PortalViewSet
from tenants import selectors as tenant_selectors
from tenants.models import CustomerOrg

from .. import selectors, services
from ..forms import DataSourceForm
from ..models import DataSource
from .filters import DataSourceFilter
from .serializers import (
    DataSourceInputSerializer,
    DataSourceSerializer,
    DisableSerializer,
    RegisterSerializer,
    RotationResultSerializer,
    UpdateSerializer,
)

Status = DataSource.Status
DS_EXAMPLE = {
    "id": "9d4f6b1e-2c3a-4b5d-8e7f-0a1b2c3d4e55",
    "org": "0b7e3f5c-52a1-4c1e-8d7a-1e0c7c9a4b22",
    "org_name": "Globex Retail",
    "webex_id": "Y2lzY29zcGFyazovL3VzL0RBVEFTT1VSQ0UvOWQ0Zg",
    "schema_id": "5397013b-7920-4ffc-807c-e8a3e0a18f43",
    "url": "https://rx.byods.example.com/feed",
    "audience": "byods-rx",
    "subject": "globex-voice",
    "token_lifetime_minutes": 60,
    "status": "active",
    "error_message": "",
    "health": "healthy",
    "token_expires_at": "2026-11-23T10:00:00Z",
    "next_rotation_at": "2026-11-23T09:36:00Z",
    "last_rotated_at": "2026-11-23T09:00:00Z",
    "consecutive_failures": 0,
    "last_error": "",
    "last_tracking_id": "",
    "missing_at_webex_since": None,
    "expiry_skew_since": None,
    "expiry_reported_at": None,
    "expiry_skew_detail": "",
    "maintenance_disable_at": None,
    "maintenance_enable_at": None,
    "maintenance_message": "",
    "created_at": "2026-11-22T09:00:00Z",
    "updated_at": "2026-11-23T09:00:00Z",
    "version": 4,
}
INPUT_EXAMPLE = {
    "schema_id": DS_EXAMPLE["schema_id"],
    "url": DS_EXAMPLE["url"],
    "audience": "byods-rx",
    "subject": "globex-voice",
    "token_lifetime_minutes": 60,
}
URL_ERROR = error_example(
    "invalid",
    "Check the fields: url.",
    {"url": ["The URL must start with https:// (Webex only calls secure endpoints)."]},
)
SCHEMA_ERROR = error_example(
    "invalid",
    "Check the fields: schema_id.",
    {
        "schema_id": [
            "Webex does not change a data source's schema: keep "
            "5397013b-7920-4ffc-807c-e8a3e0a18f43, or register a new data source for the "
            "other schema."
        ]
    },
)
ORG_NOT_ACTIVE = error_example(
    "org_not_active",
    "Globex Retail is offboarded: changes reach Webex only for active orgs.",
    status=409,
)
REASON = text_field(min_length=5, max_length=500)
# An edit that changes nothing is not sent to Webex (no new nonce): 200 with this header.
UNCHANGED = "Portal-Unchanged"
UNCHANGED_HEADER = OpenApiParameter(
    UNCHANGED,
    str,
    location=OpenApiParameter.HEADER,
    response=[200],
    enum=["true"],
    description="Present when the edit changed nothing: nothing was sent to Webex, no new "
    "nonce was made and no audit event was written; the body is the data source as it was.",
)
SAVED = OpenApiResponse(
    DataSourceSerializer,
    description="Saved at Webex; or, with `Portal-Unchanged: true`, nothing to change.",
)


class DataSourceViewSet(PortalViewSet):
    serializer_class = DataSourceSerializer
    filter_backends = [StrictFilterBackend]
    filterset_class = DataSourceFilter
    perms = {
        "list": Perm.VIEW_PORTAL,
        "retrieve": Perm.VIEW_PORTAL,
        "create": Perm.EDIT_DATASOURCES,
        "update": Perm.EDIT_DATASOURCES,
        "partial_update": Perm.EDIT_DATASOURCES,
        "rotate": Perm.EDIT_DATASOURCES,
        "disable": Perm.OPERATE,
        "enable": Perm.OPERATE,
        "destroy": Perm.OPERATE,
    }

    def get_queryset(self):
        return selectors.datasource_list()

    def _ds(self, id) -> DataSource:
        return selectors.datasource_get_for_user(self.request.user, id)

    def _changeable(self, id) -> DataSource:
        """The data source, if its state allows a change: every write answers the same 409
        for an org that is not active and for a deleted data source, before reading input
        (so before any call to Webex)."""
        ds = selectors.datasource_get_for_user(self.request.user, id, with_deleted=True)
        org = ds.org
        if org.status != CustomerOrg.Status.ACTIVE:
            raise Conflict(
                f"{org.name} is {org.get_status_display().lower()}: changes reach Webex only "
                "for active orgs.",
                "org_not_active",
            )
        if ds.deleted_at is not None:
            raise Conflict(f"{ds.url} is deleted: it cannot change any more.", "deleted")
        return ds

    def _answer(self, ds: DataSource, code: int = 200) -> Response:
        return Response(self.get_serializer(self._ds(ds.public_id)).data, status=code)

    @extend_schema(
        summary="List data sources",
        description="Filters as on the Data sources page: `q`, `org`, `status`, `health`, `sort`.",
        tags=["data sources"],
        examples=[example("page", DS_EXAMPLE)],
    )
    def list(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        summary="One data source", tags=["data sources"], examples=[example("ds", DS_EXAMPLE)]
    )
    def retrieve(self, request, id):
        return Response(self.get_serializer(self._ds(id)).data)

    @extend_schema(
        summary="Register a data source at Webex",
        description="Validated like the register page (same messages); the org must be active.",
        tags=["data sources"],
        request=RegisterSerializer,
        responses={201: DataSourceSerializer},
        examples=[
            example("register", INPUT_EXAMPLE | {"org": DS_EXAMPLE["org"]}, 201, response=False),
            example("registered", DS_EXAMPLE, 201),
            URL_ERROR,
        ],
    )
    def create(self, request):
        data = check_json(request.data, RegisterSerializer().fields)
        org = self._org_from(data)
        if org.status != CustomerOrg.Status.ACTIVE:
            raise Conflict(
                f"{org.name} is {org.get_status_display().lower()}: data sources can be "
                "registered only for active orgs.",
                "org_not_active",
            )
        payload = self._validated({k: v for k, v in data.items() if k != "org"}, org=org)
        ds = services.datasource_register(org=org, **payload, actor=self.actor())
        return self._answer(ds, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Edit a data source (full payload)",
        description="Sent to Webex as the full payload with a new nonce, as the edit page does. "
        "The schema cannot change (leave `schema_id` out). An edit that changes nothing is not "
        "sent: 200 with the header `Portal-Unchanged: true`.",
        tags=["data sources"],
        request=UpdateSerializer,
        parameters=[UNCHANGED_HEADER],
        responses={200: SAVED},
        examples=[
            example("edit", INPUT_EXAMPLE, response=False),
            example("saved", DS_EXAMPLE),
            URL_ERROR,
            SCHEMA_ERROR,
            ORG_NOT_ACTIVE,
        ],
    )
    def update(self, request, id):
        ds = self._changeable(id)
        data = check_json(request.data, UpdateSerializer().fields)
        return self._update(ds, {"schema_id": ds.schema_id} | dict(data))

    @extend_schema(
        summary="Edit some fields of a data source",
        description="The fields not sent keep their values; then as the full edit. A PATCH "
        "that changes nothing (`{}` included) is not sent to Webex: 200 with the header "
        "`Portal-Unchanged: true`.",
        tags=["data sources"],
        request=UpdateSerializer(partial=True),
        parameters=[UNCHANGED_HEADER],
        responses={200: SAVED},
        examples=[
            example("edit", {"audience": "byods-rx-2"}, response=False),
            example("saved", DS_EXAMPLE),
            SCHEMA_ERROR,
            ORG_NOT_ACTIVE,
        ],
    )
    def partial_update(self, request, id):
        ds = self._changeable(id)
        sent = check_json(request.data, UpdateSerializer().fields)
        current = {name: getattr(ds, name) for name in DataSourceForm.PAYLOAD}
        return self._update(ds, current | dict(sent))

    def _update(self, ds: DataSource, data: dict) -> Response:
        payload = self._validated(data, org=ds.org, current_schema_id=ds.schema_id)
        saved = services.datasource_update(ds=ds, **payload, actor=self.actor())
        response = self._answer(saved)
        if saved.version == ds.version:
            response[UNCHANGED] = "true"
        return response

    @extend_schema(
        summary="Disable a data source with a message",
        description="Webex stops sending data to it and shows the message in Control Hub.",
        tags=["data sources"],
        request=DisableSerializer,
        responses={200: DataSourceSerializer},
        examples=[
            example("disable", {"message": "Maintenance until 18:00 UTC"}, response=False),
            example("disabled", DS_EXAMPLE | {"status": "disabled", "health": "disabled"}),
        ],
    )
    def disable(self, request, id):
        ds = self._changeable(id)
        if ds.status == Status.DISABLED:
            raise Conflict(f"{ds.url} is already disabled.", "already_disabled")
        serializer = DisableSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ds = services.datasource_disable(
            ds=ds, message=serializer.validated_data["message"], actor=self.actor()
        )
        return self._answer(ds)

    @extend_schema(
        summary="Enable a disabled data source",
        tags=["data sources"],
        request=None,
        responses={200: DataSourceSerializer},
        examples=[example("enabled", DS_EXAMPLE)],
    )
    def enable(self, request, id):
        ds = self._changeable(id)
        if ds.status == Status.ACTIVE:
            raise Conflict(f"{ds.url} is already active.", "already_active")
        return self._answer(services.datasource_enable(ds=ds, actor=self.actor()))

    @extend_schema(
        summary="Delete a data source at Webex",
        description="Cannot be undone. The row and its nonce history stay for the audit trail.",
        tags=["data sources"],
        parameters=[
            OpenApiParameter(
                "reason",
                {"type": "string", "minLength": 5, "maxLength": 500, "pattern": TEXT_PATTERN},
                required=True,
                description="Kept in the audit trail (5 to 500 characters).",
                examples=[OpenApiExample("reason", value="Customer cancelled the feed")],
            )
        ],
        responses={204: None},
    )
    def destroy(self, request, id):
        ds = self._changeable(id)
        reason = request.query_params.get("reason", "")
        check_text({"reason": reason}, {"reason": REASON})
        services.datasource_delete(ds=ds, reason=reason, actor=self.actor())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Rotate the JWS now",
        description=(
            "Rotates at once (as the page's button does); `outcome` says what happened. "
            "Single flight: while a rotation or change of this data source is at Webex the "
            "answer is `in_progress`, and within seconds after one it is `already_rotated`; "
            "neither sends anything to Webex."
        ),
        tags=["data sources"],
        request=None,
        responses={200: RotationResultSerializer},
        examples=[
            example("rotated", {"outcome": "rotated", "detail": "", "datasource": DS_EXAMPLE})
        ],
    )
    def rotate(self, request, id):
        ds = self._changeable(id)
        if ds.status == Status.DISABLED:
            raise Conflict(f"{ds.url} is disabled: enable it to rotate its JWS.", "disabled")
        result = services.datasource_rotate(
            ds_id=ds.pk, force=True, seen_version=ds.version, actor=self.actor()
        )
        return Response(
            RotationResultSerializer(
                {"outcome": result.outcome, "detail": result.detail, "datasource": self._ds(id)}
            ).data
        )

    # ---------------------------------------------------------------- helpers
    def _org_from(self, data) -> CustomerOrg:
        raw = data.get("org")
        if not raw:
            raise serializers.ValidationError({"org": ["This field is required."]})
        try:
            return tenant_selectors.org_get_for_user(self.request.user, uuid.UUID(raw))
        except (ValueError, Http404):
            raise serializers.ValidationError({"org": ["No such org."]}) from None

    def _validated(self, data, **form_kwargs) -> dict:
        serializer = DataSourceInputSerializer(data=data, context={"form_kwargs": form_kwargs})
        serializer.is_valid(raise_exception=True)
        return {name: serializer.validated_data[name] for name in DataSourceForm.PAYLOAD}
