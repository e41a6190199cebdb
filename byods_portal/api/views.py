"""The base of every API view, and the API's own endpoints (health)."""

from django.contrib.auth.decorators import login_not_required
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from accounts.api.authentication import ApiKeyPrincipal
from accounts.roles import Perm
from audit.context import Actor

from ..health import run_checks


class PortalAPIMixin:
    """API views authenticate themselves (API key or session), so the site-wide login
    redirect does not apply: they answer 401/403 in the API's error format instead."""

    perms: dict[str, str] = {}

    @classmethod
    def as_view(cls, *args, **kwargs):
        return login_not_required(super().as_view(*args, **kwargs))

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # Every documented query parameter takes one value: a second one is not quietly
        # dropped (as Django's QueryDict would, keeping the last).
        repeated = {
            name: ["Give this parameter once."]
            for name, values in request.query_params.lists()
            if len(values) > 1
        }
        if repeated:
            raise ValidationError(repeated)

    def finalize_response(self, request, response, *args, **kwargs):
        # An error is JSON in the API's format whatever was negotiated (`?format=csv`, the
        # browsable API): clients parse one format for every failure.
        if isinstance(response, Response) and response.status_code >= 400:
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)

    def actor(self) -> Actor:
        user = self.request.user
        return user.actor if isinstance(user, ApiKeyPrincipal) else Actor.user(user)


class PortalViewSet(PortalAPIMixin, viewsets.GenericViewSet):
    lookup_field = "public_id"
    lookup_url_kwarg = "id"


_check = inline_serializer(
    "HealthCheck",
    {
        "ok": serializers.BooleanField(),
        "detail": serializers.CharField(),
        "ms": serializers.FloatField(),
    },
)
HealthSerializer = inline_serializer(
    "Health",
    {
        "status": serializers.ChoiceField(choices=["ok", "down"]),
        "checks": serializers.DictField(child=_check),
    },
)


class HealthViewSet(PortalViewSet):
    perms = {"check": Perm.VIEW_PORTAL}
    filter_backends = []
    pagination_class = None

    @extend_schema(
        summary="Health of the database and the broker",
        description="The same checks as `/healthz`: 200 when all pass, 503 when one fails.",
        responses={200: HealthSerializer, 503: HealthSerializer},
        examples=[
            OpenApiExample(
                "healthy",
                value={
                    "status": "ok",
                    "checks": {
                        "database": {"ok": True, "detail": "postgresql", "ms": 1.2},
                        "broker": {"ok": True, "detail": "redis", "ms": 2.5},
                    },
                },
                response_only=True,
                status_codes=["200"],
            )
        ],
        tags=["health"],
    )
    def check(self, request):
        checks = run_checks()
        ok = all(c.ok for c in checks)
        data = {"status": "ok" if ok else "down", "checks": {c.name: c.as_dict() for c in checks}}
        return Response(data, status=200 if ok else 503)
