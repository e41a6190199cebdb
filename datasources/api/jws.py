"""`POST /api/v1/jws/verify/`: the JWS decision for receivers written in any language.

The decision itself is `datasources.jws.jws_verify_for_api`; this view only authenticates the
caller (an API key with the `verifier` role, or an operator), reads `{"token": ...}` and answers.
A refused token is a successful call (200, `valid: false` and a refusal code), so a receiver can
tell "the token is bad" from "my API key is bad" (401 in the API's error format).
"""

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.response import Response

from accounts.roles import Perm
from core.api.throttling import ApiKeyRateThrottle
from core.api.views import PortalViewSet

from ..jws import Code, jws_verify_for_api


class VerifierRateThrottle(ApiKeyRateThrottle):
    """Receivers verify on every connection Webex opens: their own, higher rate."""

    scope = "jws_verify"

    def get_rate(self) -> str:
        return settings.PORTAL_JWS_VERIFY_RATE


VerifyRequest = inline_serializer(
    "JwsVerify",  # the schema's component is JwsVerifyRequest (request components are split)
    {"token": serializers.CharField(help_text="The JWS as presented: bare or 'Bearer <jws>'.")},
)
VerifyResponse = inline_serializer(
    "JwsVerifyResponse",
    {
        "valid": serializers.BooleanField(),
        "code": serializers.ChoiceField(
            choices=[c.value for c in Code], required=False, help_text="Why it was refused."
        ),
        "message": serializers.CharField(required=False),
        "field": serializers.CharField(required=False),
        "retryAfter": serializers.IntegerField(required=False),
        "org": serializers.DictField(required=False),
        "dataSource": serializers.DictField(required=False),
        "nonce": serializers.ChoiceField(
            choices=["current", "pending", "previous"], required=False
        ),
        "kid": serializers.CharField(required=False),
        "claims": serializers.DictField(required=False),
    },
)
ACCEPTED = {
    "valid": True,
    "org": {
        "id": "0b7e3f5c-52a1-4c1e-8d7a-1e0c7c9a4b22",
        "webexId": "1eb65fdf-9643-417f-9974-ad72cae0e10f",
        "name": "Globex Retail",
    },
    "dataSource": {
        "id": "9d4f6b1e-2c3a-4b5d-8e7f-0a1b2c3d4e55",
        "url": "https://rx.byods.example.com/feed",
        "schemaId": "5397013b-7920-4ffc-807c-e8a3e0a18f43",
    },
    "nonce": "current",
    "kid": "emulator-1",
    "claims": {"aud": "byods-rx", "sub": "globex-voice", "exp": 1795430400},
}


class JwsVerifyViewSet(PortalViewSet):
    perms = {"verify": Perm.VERIFY_JWS}
    throttle_classes = [VerifierRateThrottle]
    filter_backends = []
    pagination_class = None

    @extend_schema(
        summary="Verify the JWS Webex presented to a data source URL",
        description=(
            "Checks issuer, key, signature, expiry, audience, subject, the data source (URL, "
            "schema and org compared exactly), its nonce (current, or the previous one until "
            "it expires) and its status. 200 with `valid` either way; 400 when `token` is "
            "missing or the body is not JSON, 415 when it is not sent as `application/json`; "
            "503 with `retryAfter` when the issuer's keys cannot be fetched."
        ),
        tags=["jws"],
        request=VerifyRequest,
        responses={
            200: VerifyResponse,
            400: VerifyResponse,
            415: VerifyResponse,
            503: VerifyResponse,
        },
        examples=[
            OpenApiExample("request", value={"token": "Bearer eyJraWQiOi..."}, request_only=True),
            OpenApiExample("accepted", value=ACCEPTED, response_only=True, status_codes=["200"]),
            OpenApiExample(
                "refused",
                value={
                    "valid": False,
                    "code": "stale_nonce",
                    "message": "The token's nonce is neither the current nor the previous one.",
                },
                response_only=True,
                status_codes=["200"],
            ),
        ],
    )
    def verify(self, request):
        try:
            data = request.data
        except (ParseError, UnsupportedMediaType) as exc:
            # Receivers read one format here, even for a body that is not JSON.
            return Response(
                {
                    "valid": False,
                    "code": Code.MALFORMED.value,
                    "field": "body",
                    "message": f"Send a JSON object with the token: {exc.detail}",
                },
                status=exc.status_code,
            )
        token = data.get("token") if isinstance(data, dict) else None
        status, body = jws_verify_for_api(token)
        return Response(body, status=status)
