"""Choose the services for `make test` and print them as shell `export` lines.

- DATABASE_URL / CELERY_BROKER_URL already set: used as they are.
- Otherwise PostgreSQL and Redis on localhost when they answer, else SQLite and the embedded
  filesystem broker. What was chosen is printed to stderr.
- Under CI=true both PostgreSQL and Redis are required: the suite must prove itself against
  the real services, so their absence is an error, not a fallback.
"""

import os
import shlex
import socket
import sys

PG_URL = "postgres://postgres@127.0.0.1:5432/byods_portal"
REDIS_URL = "redis://127.0.0.1:6379/15"


def _answers(host: str, port: int, probe: bytes | None = None, expect: bytes = b"") -> bool:
    try:
        with socket.create_connection((host, port), timeout=2) as sock:
            if probe is None:
                return True
            sock.sendall(probe)
            return sock.recv(64).startswith(expect)
    except OSError:
        return False


def _postgres_answers() -> bool:
    try:
        import psycopg
    except ImportError:
        return False
    try:
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def main() -> int:
    ci = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
    exports: dict[str, str] = {}
    missing = []

    if os.environ.get("DATABASE_URL"):
        print("make test: database from DATABASE_URL", file=sys.stderr)
    elif _postgres_answers():
        exports["DATABASE_URL"] = PG_URL
        print("make test: PostgreSQL on 127.0.0.1:5432", file=sys.stderr)
    else:
        missing.append("PostgreSQL on 127.0.0.1:5432")
        print("make test: PostgreSQL not answering; using SQLite", file=sys.stderr)

    broker = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL")
    if broker:
        exports["CELERY_BROKER_URL"] = broker
        print("make test: broker from CELERY_BROKER_URL/REDIS_URL", file=sys.stderr)
    elif _answers("127.0.0.1", 6379, b"PING\r\n", b"+PONG"):
        exports["CELERY_BROKER_URL"] = REDIS_URL
        exports["REDIS_URL"] = REDIS_URL
        print("make test: Redis on 127.0.0.1:6379", file=sys.stderr)
    else:
        missing.append("Redis on 127.0.0.1:6379")
        print("make test: Redis not answering; using the embedded broker", file=sys.stderr)

    if ci and missing:
        print(f"make test: CI=true requires {' and '.join(missing)}", file=sys.stderr)
        return 1
    for name, value in exports.items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
