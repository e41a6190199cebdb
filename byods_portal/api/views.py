"""The API's own endpoints (health); the base of every API view is core/api/views.py."""

from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from accounts.roles import Perm
from core.api.views import PortalViewSet
from core.health import run_checks

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
