"""API for Service Apps and customer orgs. Each action parses input (with the page's form),
calls one service and answers; the rules live in `tenants.services`."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.response import Response

from accounts.roles import Perm
from core.api.errors import Conflict
from core.api.filters import StrictFilterBackend
from core.api.schema import error_example
from core.api.views import PortalViewSet

from .. import selectors, services
from ..models import CustomerOrg
from .filters import OrgFilter
from .serializers import (
    OnboardSerializer,
    OrgSerializer,
    RefreshResultSerializer,
    ServiceAppSerializer,
    TokenStatusSerializer,
)

Status = CustomerOrg.Status
APP_EXAMPLE = {
    "id": "6f1c2a8e-1f3b-4d0a-9a55-2b8f0c4e7d11",
    "name": "Acme Analytics",
    "client_id": "C0ffee…",
    "application_id": "Y2lzY29zcGFyazovL3VzL0FQUExJQ0FUSU9OLzEyMw",
    "region": "us",
    "valid_domains": ["byods.example.com"],
    "schema_ids": ["5397013b-7920-4ffc-807c-e8a3e0a18f43"],
    "integration_token_expires_at": "2026-12-01T00:00:00Z",
    "org_count": 12,
    "created_at": "2026-11-01T09:00:00Z",
    "updated_at": "2026-11-01T09:00:00Z",
}
TOKEN_EXAMPLE = {
    "has_tokens": True,
    "access_expires_at": "2026-12-07T09:00:00Z",
    "refresh_expires_at": "2027-02-20T09:00:00Z",
    "obtained_at": "2026-11-22T09:00:00Z",
    "last_refreshed_at": "2026-11-22T09:00:00Z",
    "next_refresh_at": "2026-11-25T09:00:00Z",
    "consecutive_failures": 0,
    "last_error": "",
    "last_tracking_id": "",
    "destroyed_at": None,
    "version": 3,
}
ORG_EXAMPLE = {
    "id": "0b7e3f5c-52a1-4c1e-8d7a-1e0c7c9a4b22",
    "name": "Globex Retail",
    "status": "active",
    "status_changed_at": "2026-11-22T09:00:00Z",
    "region": "us",
    "webex_org_id": "3f0a2c4e-8b1d-4e6f-9a2b-7c5d1e0f3a44",
    "service_app": APP_EXAMPLE["id"],
    "owner": "cs@example.com",
    "authorized_at": "2026-11-22T08:59:00Z",
    "authorized_domains": ["byods.example.com"],
    "authorized_schema_ids": ["5397013b-7920-4ffc-807c-e8a3e0a18f43"],
    "offboard_mode": "",
    "offboard_progress": {},
    "token": TOKEN_EXAMPLE,
    "created_at": "2026-11-22T09:00:00Z",
    "updated_at": "2026-11-22T09:00:00Z",
    "version": 2,
}


def _example(name: str, value, status_code: int = 200, response: bool = True):
    return OpenApiExample(
        name,
        value=value,
        status_codes=[str(status_code)],
        response_only=response,
        request_only=not response,
    )


class ServiceAppViewSet(PortalViewSet):
    serializer_class = ServiceAppSerializer
    perms = {"list": Perm.VIEW_PORTAL, "retrieve": Perm.VIEW_PORTAL}

    def get_queryset(self):
        return selectors.serviceapp_list()

    @extend_schema(
        summary="List Service Apps",
        tags=["service apps"],
        examples=[_example("page", APP_EXAMPLE)],
    )
    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        summary="One Service App", tags=["service apps"], examples=[_example("app", APP_EXAMPLE)]
    )
    def retrieve(self, request, id):
        return Response(self.get_serializer(selectors.serviceapp_get(id)).data)


class OrgViewSet(PortalViewSet):
    serializer_class = OrgSerializer
    filter_backends = [StrictFilterBackend]
    filterset_class = OrgFilter
    perms = {
        "list": Perm.VIEW_PORTAL,
        "retrieve": Perm.VIEW_PORTAL,
        "create": Perm.ONBOARD_ORGS,
        "token": Perm.VIEW_PORTAL,
        "token_refresh": Perm.ONBOARD_ORGS,
    }

    def get_queryset(self):
        return selectors.org_list()

    def _org(self, id) -> CustomerOrg:
        return selectors.org_get_for_user(self.request.user, id)

    @extend_schema(
        summary="List customer orgs",
        description="Filters as on the Orgs page: `q` (name or Webex org UUID), `status`, `sort`.",
        tags=["orgs"],
        examples=[_example("page", ORG_EXAMPLE)],
    )
    def list(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        summary="One customer org", tags=["orgs"], examples=[_example("org", ORG_EXAMPLE)]
    )
    def retrieve(self, request, id):
        return Response(self.get_serializer(self._org(id)).data)

    @extend_schema(
        summary="Onboard an org",
        description="Fetches the org's tokens from Webex now; on success the org is `active`. "
        "Validated by the onboarding page's form, with its messages.",
        tags=["orgs"],
        request=OnboardSerializer,
        responses={201: OrgSerializer},
        examples=[
            _example(
                "onboard",
                {
                    "service_app": APP_EXAMPLE["id"],
                    "webex_org_id": ORG_EXAMPLE["webex_org_id"],
                    "name": "Globex Retail",
                    "region": "us",
                    "owner": "cs@example.com",
                },
                201,
                response=False,
            ),
            _example("onboarded", ORG_EXAMPLE, 201),
            error_example(
                "invalid",
                "Check the fields: webex_org_id.",
                {"webex_org_id": ["This org is already onboarded as “Globex Retail” (Active)."]},
            ),
        ],
    )
    def create(self, request):
        serializer = OnboardSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        d = serializer.validated_data
        org = services.org_onboard(
            app=d["service_app"],
            webex_org_id=d["webex_org_id"],
            name=d["name"],
            region=d["region"],
            owner=d["owner"],
            actor=self.actor(),
        )
        org = self._org(org.public_id)
        return Response(self.get_serializer(org).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Token status of an org",
        description="Expiry times and refresh state only: token values are never returned.",
        tags=["orgs"],
        responses={200: TokenStatusSerializer},
        examples=[_example("token", TOKEN_EXAMPLE)],
    )
    def token(self, request, id):
        org = self._org(id)
        token = getattr(org, "token", None)
        if token is None:
            raise Conflict(f"{org.name} has no tokens yet.", "no_tokens")
        return Response(TokenStatusSerializer(token).data)

    @extend_schema(
        summary="Refresh an org's access token now",
        description=(
            "Single-flight with the background refresh and with other callers: while a refresh "
            "runs, or within seconds after one, the answer is `already_refreshed` (with the "
            "time in `detail`) and Webex is not called again. `outcome` says what happened."
        ),
        tags=["orgs"],
        request=None,
        responses={200: RefreshResultSerializer},
        examples=[
            _example("refreshed", {"outcome": "refreshed", "detail": "", "token": TOKEN_EXAMPLE})
        ],
    )
    def token_refresh(self, request, id):
        org = self._org(id)
        if getattr(org, "token", None) is None:
            raise Conflict(f"{org.name} has no tokens yet.", "no_tokens")
        result = services.org_tokens_refresh(
            org_id=org.pk, force=True, seen_version=org.token.version, actor=self.actor()
        )
        org = self._org(id)
        return Response(
            RefreshResultSerializer(
                {"outcome": result.outcome, "detail": result.detail, "token": org.token}
            ).data
        )
