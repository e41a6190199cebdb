"""``python -m webex_emulator``: run the emulator on uvicorn (one process, asyncio)."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

import uvicorn

from .app import create_app
from .logs import configure_logging
from .runtime import Options

log = logging.getLogger("webex_emulator")


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m webex_emulator",
        description="Local emulator of the Webex BYODS APIs (data sources, tokens, webhooks).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8900, help="port to bind (default 8900)")
    parser.add_argument(
        "--db", default=":memory:", help="SQLite file keeping the world across restarts"
    )
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, help="latency added to /v1 and /idb"
    )
    parser.add_argument(
        "--jitter-ms", type=float, default=0.0, help="+/- uniform jitter on the latency"
    )
    parser.add_argument(
        "--seed-demo", action="store_true", help="seed the demo world into an empty DB"
    )
    parser.add_argument(
        "--public-url",
        default=None,
        help="base URL for the JWS issuer and Link headers (default: the request's own)",
    )
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    args = parser.parse_args(argv)
    if args.latency_ms < 0 or args.jitter_ms < 0:
        parser.error("--latency-ms and --jitter-ms must be >= 0")
    return Options(
        host=args.host,
        port=args.port,
        db=args.db,
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        seed_demo=args.seed_demo,
        public_url=args.public_url,
        log_level=args.log_level,
    )


def main(argv: Sequence[str] | None = None) -> None:
    options = parse_args(argv)
    configure_logging(options.log_level)
    app = create_app(options)
    log.info(
        "starting emulator",
        extra={"fields": {"host": options.host, "port": options.port, "db": options.db}},
    )
    uvicorn.run(
        app,
        host=options.host,
        port=options.port,
        log_config=None,
        access_log=False,
        log_level=options.log_level,
        backlog=4096,
        timeout_keep_alive=30,
        lifespan="on",
    )


if __name__ == "__main__":
    main()
