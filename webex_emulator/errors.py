"""Webex-shaped errors.

Every error the emulator returns, on ``/v1``, ``/idb`` and ``/_emulator`` alike, has the body
``{"message": "...", "errors": [{"description": "..."}], "trackingId": "..."}`` (the ``Error``
schema of the OpenAPI excerpt). The tracking id is also sent as the ``trackingId`` response header
(added to every response by :mod:`webex_emulator.middleware`).

The OAuth refresh endpoint (``POST /v1/access_token``) additionally carries the RFC 6749 ``error``
code (``invalid_grant``, ``invalid_client``, ...) in the same body.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from starlette.responses import JSONResponse


class WebexError(Exception):
    """An error response: raise it anywhere in a handler, the app turns it into JSON."""

    def __init__(
        self,
        status: int,
        message: str,
        descriptions: Iterable[str] = (),
        *,
        oauth_error: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.descriptions = list(descriptions) or [message]
        self.oauth_error = oauth_error
        self.headers = dict(headers or {})


def error_body(
    message: str,
    tracking_id: str,
    descriptions: Iterable[str] = (),
    oauth_error: str | None = None,
) -> dict[str, Any]:
    """The JSON body of a Webex error."""
    body: dict[str, Any] = {}
    if oauth_error is not None:
        body["error"] = oauth_error
        body["error_description"] = message
    body["message"] = message
    body["errors"] = [{"description": text} for text in (list(descriptions) or [message])]
    body["trackingId"] = tracking_id
    return body


def error_response(
    status: int,
    message: str,
    tracking_id: str,
    descriptions: Iterable[str] = (),
    *,
    oauth_error: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        error_body(message, tracking_id, descriptions, oauth_error),
        status_code=status,
        headers=dict(headers or {}),
    )


def bad_request(message: str, descriptions: Iterable[str] = ()) -> WebexError:
    return WebexError(400, message, descriptions)


def missing_fields(fields: Iterable[str]) -> WebexError:
    """400 naming every missing field, one ``errors[]`` entry per field."""
    names = list(fields)
    return WebexError(
        400,
        f"Missing required field(s): {', '.join(names)}",
        [f"{name} is required" for name in names],
    )
