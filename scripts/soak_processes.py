"""The soak's own processes: a scratch database, a private broker, the portal's web app under
gunicorn, and celery workers and beat."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from soak_config import DB, PG_ADMIN, ROOT


def scratch_database() -> str:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB}")
    return PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgres://") + f"/{DB}"


class Broker:
    """A private redis-server, so restarting it never disturbs the machine's Redis."""

    def __init__(self, workdir: Path):
        from webex_emulator.testing import free_port

        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - fixed argv, no user input
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        import redis

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                redis.Redis.from_url(self.url).ping()
                return
            except redis.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


class WebApp:
    """The portal's web app under gunicorn with the workers' environment (scratch database,
    broker, settings): the storms reach it over HTTP the way API clients do."""

    def __init__(self, env: dict, logfile: Path):
        from webex_emulator.testing import free_port

        self.port = free_port()
        self.env = env
        self.logfile = logfile
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        import requests

        self.process = subprocess.Popen(  # noqa: S603 - fixed argv, no user input
            [
                sys.executable,
                "-m",
                "gunicorn",
                "byods_portal.wsgi:application",
                "--workers",
                "2",
                "--threads",
                "8",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=open(self.logfile, "a"),  # noqa: SIM115 - the child owns it until it exits
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {self.logfile}")
            try:
                requests.get(f"{self.url}/healthz", timeout=5)  # any answer: it is serving
                return
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer within 60 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


def start_celery(args: list[str], env: dict, logfile: Path) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603 - fixed argv, no user input
        [sys.executable, "-m", "celery", "-A", "byods_portal", *args, "--loglevel", "WARNING"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(logfile, "a"),  # noqa: SIM115 - the child owns it until it exits
    )


def worker(n: int, env: dict, logs: Path) -> subprocess.Popen:
    # --pool solo: the worker is one process, so SIGKILL kills all of it (no orphaned child).
    return start_celery(
        ["worker", "--pool", "solo", "-n", f"soak{n}@%h", "--prefetch-multiplier", "1"],
        env,
        logs / f"worker{n}.log",
    )
