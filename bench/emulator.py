"""Benchmark: how many requests the Webex emulator keeps in flight with 200 ms of latency.

Starts an emulator subprocess with ``--latency-ms 200``, builds a Service App, an org, an
integration token, an org token and one data source, opens ``--concurrency`` keep-alive
connections, then sends ``--requests`` ``GET /v1/dataSources/{id}`` over them, each connection
one request at a time.

The client is a few lines of asyncio streams rather than httpx: httpx's pool costs about a
millisecond of CPU per request and grows quadratically with hundreds of connections, so on a
small machine it measures itself, not the emulator.

Two measures of concurrency:

* throughput: ``requests x latency / wall time`` (Little's law: what was held in flight, on
  average, over the whole burst, ramp-up and tail included);
* the emulator's own gauge: ``peakInFlight`` from ``GET /_emulator/stats``, the largest number of
  ``/v1`` requests it was serving at one moment.

The achieved figure is the smaller of the two, capped at the 256 target. The last line printed
is ``emulator in-flight: <achieved>/256`` (``bench/run_all.py`` records it).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from webex_emulator.testing import EmulatorControl, EmulatorProcess  # noqa: E402

TARGET = 256
SCHEMA_ID = "5397013b-7920-4ffc-807c-e8a3e0a18f43"


def set_up(control: EmulatorControl) -> tuple[str, str]:
    """An org token and the id of a registered data source."""
    base = control.base_url
    app = control.create_service_app("Bench", ["byods.example.com"], [SCHEMA_ID])
    org = control.create_org("Bench Org")
    control.authorize(app["applicationId"], org["id"])
    integration = control.create_integration_token()["accessToken"]
    token = requests.post(
        f"{base}/v1/applications/{app['applicationId']}/token",
        headers={"Authorization": f"Bearer {integration}"},
        json={
            "clientId": app["clientId"],
            "clientSecret": app["clientSecret"],
            "targetOrgId": org["webexId"],
        },
        timeout=10,
    )
    token.raise_for_status()
    access = token.json()["access_token"]
    source = requests.post(
        f"{base}/v1/dataSources",
        headers={"Authorization": f"Bearer {access}"},
        json={
            "schemaId": SCHEMA_ID,
            "url": "https://byods.example.com/bench",
            "audience": "bench",
            "subject": "bench",
            "nonce": "bench-1",
            "tokenLifetimeMinutes": 60,
        },
        timeout=10,
    )
    source.raise_for_status()
    return access, source.json()["id"]


async def read_status(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 response (Content-Length framed) and return its status."""
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def burst(
    control: EmulatorControl, token: str, path: str, total: int, concurrency: int
) -> tuple[float, int]:
    """Send ``total`` GETs over ``concurrency`` connections; return (wall time, failures)."""
    parts = urlsplit(control.base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n\r\n"
    ).encode()
    shares = [
        total // concurrency + (1 if i < total % concurrency else 0) for i in range(concurrency)
    ]
    go = asyncio.Event()
    failures = 0

    async def connection(count: int, ready: asyncio.Future[None]) -> None:
        nonlocal failures
        reader, writer = await asyncio.open_connection(host, port)
        ready.set_result(None)
        await go.wait()
        try:
            for _ in range(count):
                writer.write(request)
                if await read_status(reader) != 200:
                    failures += 1
        finally:
            writer.close()

    loop = asyncio.get_running_loop()
    readiness = [loop.create_future() for _ in shares]
    pairs = zip(shares, readiness, strict=True)
    tasks = [asyncio.create_task(connection(count, ready)) for count, ready in pairs]
    await asyncio.gather(*readiness)  # every connection is open before the clock starts
    control.reset_stats()  # a quick blocking call while nothing is in flight
    started = time.perf_counter()
    go.set()
    await asyncio.gather(*tasks)
    return time.perf_counter() - started, failures


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=2048)
    parser.add_argument("--concurrency", type=int, default=512)
    parser.add_argument("--latency-ms", type=int, default=200)
    args = parser.parse_args()

    with EmulatorProcess(["--latency-ms", str(args.latency_ms)], log_level="warning") as emulator:
        control = EmulatorControl(emulator.base_url)
        token, source_id = set_up(control)
        path = f"/v1/dataSources/{source_id}"
        elapsed, failures = asyncio.run(
            burst(control, token, path, args.requests, args.concurrency)
        )
        peak = int(control.stats()["peakInFlight"])
    if failures:
        raise SystemExit(f"{failures} of {args.requests} requests did not answer 200")

    throughput = args.requests * (args.latency_ms / 1000) / elapsed
    ideal = args.requests / args.concurrency * args.latency_ms / 1000
    print(
        f"{args.requests} x GET /v1/dataSources/{{id}} over {args.concurrency} connections, "
        f"latency {args.latency_ms} ms"
    )
    print(f"wall time: {elapsed:.3f} s (ideal {ideal:.3f} s), {args.requests / elapsed:.0f} req/s")
    print(f"in flight by throughput (requests x latency / wall): {throughput:.0f}")
    print(f"in flight by the emulator's gauge (peakInFlight): {peak}")
    achieved = min(TARGET, int(throughput), peak)
    print(f"emulator in-flight: {achieved}/{TARGET}")


if __name__ == "__main__":
    main()
