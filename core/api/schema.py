"""OpenAPI defaults: every operation documents the error format for the failures it can meet,
and each create links to what can be done with what it created (`add_links`)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable: invalid, not_found, …")
    message = serializers.CharField(help_text="For people; names the rule that was broken.")
    # DRF's metaclass moves declared fields off the class, so this does not shadow `.fields`.
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Field name -> the messages for that field (the forms' messages).",
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


def example(name: str, value, code: int = 200, response: bool = True) -> OpenApiExample:
    """A documented example: of a response with status `code`, or of a request body."""
    return OpenApiExample(
        name,
        value=value,
        status_codes=[str(code)],
        response_only=response,
        request_only=not response,
    )


def error_example(code: str, message: str, fields: dict | None = None, status: int = 400):
    return OpenApiExample(
        code,
        value={"error": {"code": code, "message": message, "fields": fields or {}}},
        response_only=True,
        status_codes=[str(status)],
    )


ALWAYS = {
    "400": "Invalid input: `fields` names each bad field (or query parameter) and the rule it "
    "broke.",
    "401": "No credentials, or an invalid, revoked or expired API key.",
    "403": "The role of the key or user does not allow this.",
    "404": "No such object (or it was deleted), an id that is not a UUID, or no such page of "
    "a list.",
    "429": "Too many requests for this API key: wait `Retry-After` seconds.",
    "500": "The portal failed (a bug, logged with its traceback); the body is still this format.",
}
WRITES = {
    "409": "The resource is not in a state that allows this: the same answer for every change "
    "while its org is not active, once it is deleted, or when it is already so (e.g. already "
    "disabled).",
    "502": "Webex refused or failed; the message carries its trackingId.",
    "503": "Webex is rate-limiting: retry after `Retry-After` seconds.",
}
BODIES = {
    "413": "The body is over the limit (DATA_UPLOAD_MAX_MEMORY_SIZE); the message names it.",
    "415": "The body is not sent as JSON (`Content-Type: application/json`).",
}


class PortalAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        extra = dict(ALWAYS)
        if self.method in ("POST", "PUT", "PATCH", "DELETE"):
            extra |= WRITES
        if self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer() is not None:
            extra |= BODIES
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


METHODS = ("get", "put", "patch", "post", "delete")


def _body_ref(response: dict) -> str | None:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return schema.get("$ref")


# Request bodies whose unknown fields are refused (`check_json`), so the schema says so; the
# JWS verification reads `token` and ignores the rest (receivers may send more).
OPEN_REQUESTS = {"JwsVerifyRequest"}


def close_requests(result, generator, request, public):
    """drf-spectacular post-processing: `additionalProperties: false` on request bodies."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and name not in OPEN_REQUESTS:
            component["additionalProperties"] = False
    return result


def add_links(result, generator, request, public):
    """drf-spectacular post-processing: OpenAPI links from every create to the operations on
    what it created, so a client (or the stateful fuzzer) can follow them.

    A create is a POST answering 201 or 202 with an object; the object's own path is the
    `{id}` path whose GET answers the same component. Every operation on that path, or below
    it, gets a link that fills `id` from the created object's `id`; and every POST whose body
    names such an object by a field of its name (`org` for an `Org`) gets a link filling that
    field (e.g. onboard an org, then register a data source for it)."""
    paths = result.get("paths", {})
    components = result.get("components", {}).get("schemas", {})

    def body_fields(operation: dict) -> set[str]:
        content = operation.get("requestBody", {}).get("content", {})
        ref = content.get("application/json", {}).get("schema", {}).get("$ref", "")
        return set(components.get(ref.rsplit("/", 1)[-1], {}).get("properties", {}))

    detail_of = {}  # component $ref -> the path that reads one by id
    for path, item in paths.items():
        get = item.get("get")
        if get and path.endswith("/{id}/"):
            ref = _body_ref(get.get("responses", {}).get("200", {}))
            if ref:
                detail_of.setdefault(ref, path)
    for item in paths.values():
        post = item.get("post")
        if not post:
            continue
        for code in ("201", "202"):
            response = post.get("responses", {}).get(code)
            detail = detail_of.get(_body_ref(response or {}))
            if not detail:
                continue
            links = {}
            for path, other in paths.items():
                if not path.startswith(detail):
                    continue
                for method in METHODS:
                    operation = other.get(method)
                    if operation:
                        name = operation["operationId"]
                        links[name] = {
                            "operationId": name,
                            "parameters": {"id": "$response.body#/id"},
                            "description": f"{method.upper()} {path} of the object created.",
                        }
            field = _body_ref(response).rsplit("/", 1)[-1].lower()
            for path, other in paths.items():
                consumer = other.get("post")
                if consumer and field in body_fields(consumer):
                    name = consumer["operationId"]
                    links[name] = {
                        "operationId": name,
                        "requestBody": {field: "$response.body#/id"},
                        "description": f"POST {path} with `{field}` the object created.",
                    }
            response["links"] = links
    return result
