"""What the benchmarks share: a scratch PostgreSQL database, and the environment that runs
Django on it with throwaway secrets (never a developer's `.env`). Not a benchmark itself:
`run_all.py` skips files whose name starts with `_`."""

import os
import secrets

PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


def scratch_database(name: str) -> str:
    """Drop and create database `name`; its URL for DATABASE_URL."""
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    return PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgres://") + f"/{name}"


def production_like_env(database_url: str) -> dict[str, str]:
    """Production settings (DEBUG off) on `database_url` with fresh throwaway secrets."""
    return {
        "DJANGO_SETTINGS_MODULE": "byods_portal.settings",
        "DJANGO_DEBUG": "false",
        "PORTAL_READ_DOTENV": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "PORTAL_ENCRYPTION_KEYS": "bench:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
    }
