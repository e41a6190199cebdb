"""What every ``/v1`` handler shares: the emulator and request context, the JSON body, paging,
the caller, and the one-route-per-path table entry (the control surface uses it too)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import auth
from ..errors import WebexError
from ..runtime import CONTEXT_KEY, Emulator, RequestContext

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def emulator_of(request: Request) -> Emulator:
    emulator: Emulator = request.app.state.emulator
    return emulator


def context_of(request: Request) -> RequestContext:
    context: RequestContext = request.scope[CONTEXT_KEY]
    return context


def public_base(request: Request) -> str:
    """``--public-url`` if given, else the scheme and host the client used."""
    configured = emulator_of(request).options.public_url
    if configured:
        return configured.rstrip("/")
    return str(request.base_url).rstrip("/")


def issuer(request: Request) -> str:
    return public_base(request) + "/idb"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON constant {name}")


async def read_json(request: Request) -> dict[str, Any]:
    """The JSON object body: 415 unless ``Content-Type`` is JSON, 400 if malformed."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/json" and not (
        media.startswith("application/") and media.endswith("+json")
    ):
        raise WebexError(415, "Unsupported Media Type: the request body must be application/json.")
    raw = await request.body()
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise WebexError(400, "The request body is not valid JSON.", [str(exc)]) from exc
    if not isinstance(data, dict):
        raise WebexError(400, "The request body must be a JSON object.")
    return data


def page_window(request: Request) -> tuple[int, int]:
    """``(offset, max)`` from the ``max`` and ``cursor`` query parameters."""
    raw_max = request.query_params.get("max")
    limit = DEFAULT_PAGE_SIZE
    if raw_max is not None:
        if not raw_max.isdigit() or not 1 <= int(raw_max) <= MAX_PAGE_SIZE:
            raise WebexError(400, f"max must be an integer from 1 to {MAX_PAGE_SIZE}.")
        limit = int(raw_max)
    offset = 0
    cursor = request.query_params.get("cursor")
    if cursor is not None:
        try:
            decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
            offset = int(decoded.removeprefix("offset:")) if decoded.startswith("offset:") else -1
        except (binascii.Error, ValueError, UnicodeDecodeError):
            offset = -1
        if offset < 0:
            raise WebexError(400, "The cursor parameter is invalid.")
    return offset, limit


def next_link(request: Request, next_offset: int, limit: int) -> str:
    """RFC 5988 ``Link`` to the next page, absolute, keeping the other query parameters."""
    params = [
        (key, value)
        for key, value in request.query_params.multi_items()
        if key not in ("max", "cursor")
    ]
    cursor = base64.urlsafe_b64encode(f"offset:{next_offset}".encode()).decode().rstrip("=")
    params += [("max", str(limit)), ("cursor", cursor)]
    return f'<{public_base(request)}{request.url.path}?{urlencode(params)}>; rel="next"'


def paged(
    request: Request, items: list[dict[str, Any]], has_more: bool, offset: int, limit: int
) -> JSONResponse:
    headers = {"Link": next_link(request, offset + limit, limit)} if has_more else {}
    return JSONResponse({"items": items}, headers=headers)


def principal_of(request: Request) -> auth.Principal:
    return auth.authenticate(emulator_of(request), request, context_of(request))


def by_method(path: str, **handlers: Callable[[Request], Awaitable[Response]]) -> Route:
    """One route per path, dispatching on the method, so a 405 lists every allowed method."""
    table = {method.upper(): handler for method, handler in handlers.items()}

    async def dispatch(request: Request) -> Response:
        return await table[request.method if request.method != "HEAD" else "GET"](request)

    return Route(path, dispatch, methods=list(table))
