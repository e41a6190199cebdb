"""OpenAPI defaults: every operation documents the error format for the failures it can meet."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable: invalid, not_found, …")
    message = serializers.CharField(help_text="For people; names the rule that was broken.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Field name -> the messages for that field (the forms' messages).",
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


def example(name: str, value, code: int = 200, response: bool = True) -> OpenApiExample:
    """A documented example: of a response with status `code`, or of a request body."""
    kind = {"response_only": True} if response else {"request_only": True}
    return OpenApiExample(name, value=value, status_codes=[str(code)], **kind)


def error_example(code: str, message: str, fields: dict | None = None, status: int = 400):
    return OpenApiExample(
        code,
        value={"error": {"code": code, "message": message, "fields": fields or {}}},
        response_only=True,
        status_codes=[str(status)],
    )


ALWAYS = {
    "400": "Invalid input: `fields` names each bad field and the rule it broke.",
    "401": "No credentials, or an invalid, revoked or expired API key.",
    "403": "The role of the key or user does not allow this.",
    "404": "No such object (or it was deleted), or no such page of a list.",
    "429": "Too many requests for this API key: wait `Retry-After` seconds.",
}
WRITES = {
    "409": "The resource is not in a state that allows this (e.g. already disabled).",
    "502": "Webex refused or failed; the message carries its trackingId.",
    "503": "Webex is rate-limiting: retry after `Retry-After` seconds.",
}


class PortalAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        extra = dict(ALWAYS)
        if self.method in ("POST", "PUT", "PATCH", "DELETE"):
            extra |= WRITES
        for code, description in extra.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    OpenApiResponse(ErrorSerializer, description=description), code
                )
        return responses


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.api.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "byods_<id>_<secret>",
            "description": "An API key created by an operator (Staff → API keys).",
        }
