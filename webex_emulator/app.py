"""The ASGI application: Starlette routes, Webex-shaped error handlers, the outer middleware."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from . import api, control
from .errors import WebexError, error_response
from .middleware import EmulatorMiddleware
from .runtime import CONTEXT_KEY, Emulator, Options
from .seed import seed_demo

log = logging.getLogger("webex_emulator")

HTTP_MESSAGES = {
    404: "The requested resource could not be found.",
    405: "Method Not Allowed: the request method is not supported by this resource.",
}


def _tracking_id(request: Request) -> str:
    context = request.scope.get(CONTEXT_KEY)
    return context.tracking_id if context is not None else ""


async def webex_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, WebexError)
    return error_response(
        exc.status,
        exc.message,
        _tracking_id(request),
        exc.descriptions,
        oauth_error=exc.oauth_error,
        headers=exc.headers,
    )


async def http_error_handler(request: Request, exc: Exception) -> Response:
    """404 for unknown routes and 405 for wrong methods, with the Webex error body."""
    assert isinstance(exc, HTTPException)
    message = HTTP_MESSAGES.get(exc.status_code, exc.detail)
    return error_response(exc.status_code, message, _tracking_id(request), headers=exc.headers)


async def server_error_handler(request: Request, exc: Exception) -> Response:
    log.error("unhandled error", exc_info=exc)
    return error_response(500, "Internal Server Error", _tracking_id(request))


def create_app(options: Options | None = None) -> ASGIApp:
    """Build the emulator. Returns the outer middleware wrapping the Starlette app."""
    emulator = Emulator(options or Options())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if emulator.options.seed_demo and emulator.store.is_empty():
            seed_demo(emulator)
        log.info(
            "emulator ready",
            extra={"fields": {"db": emulator.options.db, "kid": emulator.keys.current.kid}},
        )
        yield
        await emulator.webhooks.cancel_all()
        emulator.store.close()

    starlette = Starlette(
        routes=[*api.routes, *control.routes],
        exception_handlers={
            WebexError: webex_error_handler,
            HTTPException: http_error_handler,
            Exception: server_error_handler,
        },
        lifespan=lifespan,
    )
    starlette.router.redirect_slashes = False
    starlette.state.emulator = emulator
    return EmulatorMiddleware(starlette, emulator)
