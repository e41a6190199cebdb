"""One error format for every API response that is not a success:

    {"error": {"code": "invalid", "message": "...", "fields": {"url": ["..."]}}}

`code` is stable and machine-readable; `message` is for people; `fields` names each bad field
with the same messages the forms show (the API validates with the same forms and services).
Webex refusals become 502 (the upstream failed us), state conflicts 409, a body over the limit
413. Answers Django gives before or instead of a view (a path that matches no route, such as a
malformed id; a crash) are in the same format under /api/ (`handler400` ... `handler500`).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core import policy as rules
from core.errors import PortalError
from core.webex_adapter import explain
from webex.errors import WebexError, WebexRateLimited

logger = logging.getLogger(__name__)
NON_FIELD = ("non_field_errors", "__all__")


class Conflict(exceptions.APIException):
    """The resource is not in a state that allows the action (e.g. already disabled)."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The resource is not in a state that allows this."

    def __init__(self, detail: str, code: str = "conflict") -> None:
        super().__init__(detail, code)
        self.code = code


def body(code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def too_large_message(limit: int, length: int | None = None) -> str:
    sent = f"The request body is {length} bytes; t" if length else "T"
    return (
        f"{sent}he API accepts at most {limit} bytes (DATA_UPLOAD_MAX_MEMORY_SIZE). "
        "Send less at once."
    )


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as {"field": ["message", ...]} (nested keys dotted)."""
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = str(key) if not prefix else f"{prefix}.{key}"
            out.update(_flatten(value, name))
        return out
    if isinstance(detail, list) and any(isinstance(v, dict | list) for v in detail):
        out = {}
        for index, value in enumerate(detail):
            out.update(_flatten(value, f"{prefix}.{index}" if prefix else str(index)))
        return out
    items = detail if isinstance(detail, list) else [detail]
    return {prefix or "non_field_errors": [str(v) for v in items]}


def _validation(fields: dict[str, list[str]]) -> Response:
    general = [m for key in NON_FIELD for m in fields.pop(key, [])]
    if general:
        message = " ".join(general)
        if fields:
            fields["non_field_errors"] = general
    else:
        message = "Check the fields: " + ", ".join(sorted(fields)) + "."
    return Response(body("invalid", message, fields), status=status.HTTP_400_BAD_REQUEST)


def _webex(exc: WebexError, message: str) -> Response:
    if isinstance(exc, WebexRateLimited):
        response = Response(body("webex_rate_limited", message), status=503)
        response["Retry-After"] = str(rules.retry_after_seconds(exc.retry_after))
        return response
    return Response(body("webex_refused", message), status=status.HTTP_502_BAD_GATEWAY)


def api_exception_handler(exc, context) -> Response | None:
    if isinstance(exc, RequestDataTooBig):  # a body read without a Content-Length to check
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        logger.warning("API request body over the limit of %s bytes refused", limit)
        return Response(body("too_large", too_large_message(limit)), status=413)
    # Django's own 404/403 as DRF's, so they carry DRF's codes (as DRF's handler does).
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    if isinstance(exc, DjangoValidationError):  # a service's rule, naming its field
        if hasattr(exc, "error_dict"):
            return _validation({k: list(v) for k, v in exc.message_dict.items()})
        return _validation({"non_field_errors": list(exc.messages)})
    if isinstance(exc, PortalError):  # a service's refusal: Webex's (502/503) or the state's
        if exc.error is not None:
            return _webex(exc.error, exc.message)
        refusal = Response(body(exc.code, exc.message), status=status.HTTP_409_CONFLICT)
        if exc.code == "busy":  # single flight: another call is at Webex right now
            refusal["Retry-After"] = "5"
        return refusal
    if isinstance(exc, WebexError):
        return _webex(exc, explain(exc))
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a bug: Django's 500 handling (and its logging) takes over
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        response.data = _validation(fields).data
        return response
    detail = response.data.get("detail", "") if isinstance(response.data, dict) else ""
    code = getattr(exc, "code", None) or getattr(exc, "default_code", "error")
    if isinstance(exc, exceptions.APIException) and isinstance(exc.detail, str | list):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else code
    if code == "not_authenticated" or isinstance(exc, exceptions.NotAuthenticated):
        detail = "Authenticate with “Authorization: Bearer byods_…” or sign in."
    if isinstance(exc, exceptions.Throttled):
        code = "throttled"
    response.data = body(str(code), str(detail))
    return response


# --- What Django answers without a view, in the API's format under /api/ ------------------
def is_api_path(request) -> bool:
    return request.path_info.startswith("/api/")


def _json_or(page, status: int, code: str, message: str):
    def handler(request, exception=None, **kwargs):
        if is_api_path(request):
            return JsonResponse(body(code, message), status=status)
        return page(request, exception, **kwargs) if exception is not None else page(request)

    return handler


bad_request = _json_or(defaults.bad_request, 400, "bad_request", "The request is malformed.")
permission_denied = _json_or(
    defaults.permission_denied, 403, "permission_denied", "You may not do this."
)
page_not_found = _json_or(
    defaults.page_not_found,
    404,
    "not_found",
    "No such API path: check the path and that ids are UUIDs (see /api/schema/).",
)
server_error = _json_or(
    defaults.server_error,
    500,
    "server_error",
    "The portal failed to answer; the error is logged. Try again, or tell the operators.",
)
