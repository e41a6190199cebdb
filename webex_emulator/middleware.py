"""The outermost ASGI layer: tracking ids, latency, faults, the request log, the in-flight gauge.

It wraps the whole Starlette app (so it sees uvicorn's own ``send``, which the ``reset`` fault
needs) and is a plain ASGI callable rather than ``BaseHTTPMiddleware``, to keep the per-request
overhead small when hundreds of requests are in flight.

* Every response, including ``/_emulator`` ones and 404/405, gets a ``trackingId`` header: the
  request's ``TrackingID`` header echoed, else ``EMULATOR_<uuid>``.
* ``/v1`` and ``/idb`` requests (never ``/_emulator``) first wait the configured latency, then
  may hit a fault rule, then reach the routes. Each one is written to the request log with its
  status, org, nonce, data source id and fault.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import ids
from .errors import error_response
from .faults import FaultRule
from .runtime import CONTEXT_KEY, Emulator, RequestContext
from .state import RequestLogEntry

log = logging.getLogger("webex_emulator.requests")

WEBEX_PREFIXES = ("/v1/", "/idb/")


class ConnectionResetFault(Exception):
    """Raised when the server does not let the emulator drop the connection itself."""


def is_webex_path(path: str) -> bool:
    return path.startswith(WEBEX_PREFIXES) or path in ("/v1", "/idb")


def _tracking_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"trackingid":
            text = value.decode("latin-1").strip()
            if text:
                return text[:200]
    return ids.new_tracking_id()


async def reset_connection(send: Send) -> None:
    """Abort the TCP connection under this request, with an RST, and send nothing.

    uvicorn's ``send`` is a bound method of its request cycle, which holds the asyncio transport.
    Setting ``SO_LINGER`` to zero makes ``abort()`` send a TCP reset; the client sees a connection
    error. uvicorn notices the lost connection and does not try to answer with a 500.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None or not hasattr(transport, "abort"):
        raise ConnectionResetFault("cannot reach the transport to reset the connection")
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    # Let connection_lost() run so uvicorn marks the cycle disconnected before we return.
    for _ in range(3):
        await asyncio.sleep(0)


async def buffered(receive: Receive) -> Receive:
    """Read the request body now and replay it later, whether or not the client is still
    there. A client that left before sending all of it gets the original `receive` (the app
    then sees the disconnect, as it would have)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return receive
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    pending: list[Message] = [{"type": "http.request", "body": b"".join(chunks)}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


class EmulatorMiddleware:
    def __init__(self, app: ASGIApp, emulator: Emulator) -> None:
        self.app = app
        self.emulator = emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        context = RequestContext(tracking_id=_tracking_id(scope))
        scope[CONTEXT_KEY] = context
        status = 0
        tracking_header = (b"trackingId", context.tracking_id.encode("latin-1", "replace"))

        async def send_with_tracking(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), tracking_header]
            await send(message)

        path: str = scope["path"]
        if not is_webex_path(path):
            await self.app(scope, receive, send_with_tracking)
            return

        emulator = self.emulator
        started = time.perf_counter()
        emulator.stats.enter()
        try:
            delay = emulator.latency.delay_seconds()
            if delay:
                await asyncio.sleep(delay)
            rule = emulator.faults.pick(scope["method"], path)
            if rule is None:
                await self.app(scope, receive, send_with_tracking)
            else:
                context.fault = rule.kind
                await self._fault(rule, scope, receive, send, send_with_tracking, context)
        finally:
            emulator.stats.leave()
            self._record(scope, context, status, started)

    async def _fault(
        self,
        rule: FaultRule,
        scope: Scope,
        receive: Receive,
        raw_send: Send,
        send: Send,
        context: RequestContext,
    ) -> None:
        if rule.kind == "reset":
            await reset_connection(raw_send)
            return
        if rule.kind == "timeout":
            delay = rule.delay_seconds
            if delay is None:
                delay = self.emulator.store.config.timeout_fault_seconds
            if rule.status is None:
                # Webex has the whole request before it stalls. Read the body now: read after
                # the hold, it is gone once the client has given up (the server reports a
                # disconnect instead), and the change would never be made.
                receive = await buffered(receive)
            await asyncio.sleep(delay)
            if rule.status is None:
                await self.app(scope, receive, send)
                return
        assert rule.status is not None
        headers = {}
        if rule.retry_after is not None:
            headers["Retry-After"] = str(rule.retry_after)
        message = rule.message or f"Injected fault: HTTP {rule.status}"
        response = error_response(rule.status, message, context.tracking_id, headers=headers)
        await response(scope, receive, send)

    def _record(self, scope: Scope, context: RequestContext, status: int, started: float) -> None:
        duration_ms = (time.perf_counter() - started) * 1000
        entry = RequestLogEntry(
            at=self.emulator.store.now(),
            method=scope["method"],
            path=scope["path"],
            query=scope.get("query_string", b"").decode("latin-1"),
            status=status,
            tracking_id=context.tracking_id,
            duration_ms=round(duration_ms, 3),
            org_id=context.org_id,
            client_id=context.client_id,
            nonce=context.nonce,
            data_source_id=context.data_source_id,
            fault=context.fault,
        )
        try:
            self.emulator.store.log_request(entry)
        except Exception:  # the log must never break a response
            log.exception("could not record request")
        if log.isEnabledFor(logging.INFO):
            log.info(
                "request",
                extra={
                    "fields": {
                        "method": entry.method,
                        "path": entry.path,
                        "status": status,
                        "trackingId": entry.tracking_id,
                        "orgId": entry.org_id,
                        "dataSourceId": entry.data_source_id,
                        "fault": entry.fault,
                        "durationMs": entry.duration_ms,
                    }
                },
            )
