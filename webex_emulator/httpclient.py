"""A minimal asyncio HTTP/1.1 client for webhook deliveries.

The emulator's runtime dependencies are Starlette and uvicorn; httpx is only a development tool
in this project. Webhook deliveries need one thing: POST a JSON body and learn the status code,
without blocking the event loop. This does that over ``asyncio.open_connection`` (http and https),
with ``Connection: close`` so no pooling or chunked decoding is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Mapping
from urllib.parse import urlsplit


class DeliveryError(Exception):
    """The request could not be completed (connection refused, timeout, bad response)."""


MAX_RESPONSE_BYTES = 64 * 1024  # what ``post_for_reply`` keeps of a response body


async def post(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> int:
    """POST ``body`` to ``url`` and return the response status code."""
    status, _ = await post_for_reply(url, body, headers, timeout)
    return status


async def post_for_reply(
    url: str, body: bytes, headers: Mapping[str, str], timeout: float
) -> tuple[int, bytes]:
    """POST ``body`` to ``url``; the status code and (up to 64 KiB of) the response body."""
    try:
        return await asyncio.wait_for(_post(url, body, headers), timeout)
    except TimeoutError as exc:
        raise DeliveryError(f"timed out after {timeout} s") from exc
    except (OSError, asyncio.IncompleteReadError) as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc


async def _post(url: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, bytes]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeliveryError(f"unsupported URL {url!r}")
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    context = ssl.create_default_context() if secure else None
    reader, writer = await asyncio.open_connection(parts.hostname, port, ssl=context)
    try:
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
        lines = [
            f"POST {target} HTTP/1.1",
            f"Host: {host}",
            f"Content-Length: {len(body)}",
            "Connection: close",
        ]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
        status_line = await reader.readline()
        fields = status_line.decode("latin-1").split(" ", 2)
        if len(fields) < 2 or not fields[0].startswith("HTTP/") or not fields[1].isdigit():
            raise DeliveryError(f"malformed status line {status_line[:80]!r}")
        # Read the rest of the response so the receiver is not cut off mid-write.
        length: int | None = None
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length" and value.strip().isdigit():
                length = int(value.strip())
        reply = b""
        if length is not None:
            reply = await reader.readexactly(min(length, MAX_RESPONSE_BYTES))
            remaining = length - len(reply)
            while remaining > 0 and (chunk := await reader.read(min(65536, remaining))):
                remaining -= len(chunk)
        else:
            while chunk := await reader.read(65536):
                if len(reply) < MAX_RESPONSE_BYTES:
                    reply += chunk
        return int(fields[1]), reply[:MAX_RESPONSE_BYTES]
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
