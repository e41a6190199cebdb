"""``/_emulator/deliver``: Webex presenting a data source's JWS to a loopback receiver."""

from __future__ import annotations

import ipaddress
import json
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..api.common import emulator_of
from ..clock import iso
from ..errors import WebexError
from ..httpclient import DeliveryError, post_for_reply
from .common import read_body

DELIVERY_TIMEOUT_SECONDS = 10.0


def _loopback_problem(url: str) -> str | None:
    """Why the emulator must not connect to ``url``, or ``None`` for a loopback http(s) URL.

    The host is judged as written (``127.0.0.0/8``, ``::1``, ``localhost``, ``*.localhost``),
    never resolved, so a DNS name cannot smuggle the emulator onto another machine."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return "must be an http or https URL with a host and no user information"
    host = parts.hostname.lower()
    if host == "localhost" or host.endswith(".localhost"):
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    return "is not a loopback address: the emulator only delivers to this machine"


async def deliver(request: Request) -> Response:
    """Act like Webex opening a connection to a data source: POST to its URL (or to
    ``targetUrl``, for a test receiver) with ``Authorization: Bearer <its current JWS>`` and
    answer the receiver's status and body. Loopback targets only."""
    body = await read_body(request)
    source_id = body.get("dataSourceId")
    if not isinstance(source_id, str) or not source_id:
        raise WebexError(400, "dataSourceId is required")
    emulator = emulator_of(request)
    source = emulator.store.data_source_by_id(source_id)
    if source is None:
        raise WebexError(404, f"Data source {source_id} not found")
    target = body.get("targetUrl", source.url)
    if not isinstance(target, str) or not target:
        raise WebexError(400, "targetUrl must be a non-empty string")
    problem = _loopback_problem(target)
    if problem:
        field = "targetUrl" if "targetUrl" in body else "the data source url"
        raise WebexError(400, f"{field} {problem}; pass a loopback targetUrl")
    # Webex never presents a disabled data source's token, nor an expired one.
    if source.status != "active":
        raise WebexError(409, "The data source is disabled: Webex does not deliver to it.")
    if source.token_expiry <= emulator.store.now():
        raise WebexError(409, "The data source's JWS has expired: Webex does not deliver it.")
    payload = json.dumps(
        {
            "dataSourceId": source.id,
            "orgId": source.org_id,
            "deliveredAt": iso(emulator.store.now()),
        }
    ).encode()
    headers = {
        "Authorization": f"Bearer {source.jws_token}",
        "Content-Type": "application/json",
        "User-Agent": "webex-emulator-delivery",
    }
    try:
        status, reply = await post_for_reply(target, payload, headers, DELIVERY_TIMEOUT_SECONDS)
    except DeliveryError as exc:
        raise WebexError(502, f"The receiver at {target} could not be reached: {exc}") from exc
    return JSONResponse(
        {
            "dataSourceId": source.id,
            "targetUrl": target,
            "kid": source.kid,
            "nonce": source.nonce,
            "tokenExpiryTime": iso(source.token_expiry),
            "status": status,
            "body": reply.decode("utf-8", "replace"),
        }
    )
