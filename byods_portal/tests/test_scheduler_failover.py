"""Two real `celery beat` processes: one acts, and killing it does not stop the schedule.

Real processes on the embedded defaults `make run` uses (SQLite, the filesystem broker): the
scheduler lease and the heartbeats live in the database, and the worker's log of the beat's
`byods_portal.heartbeat` task is the witness that tasks keep arriving. Waits poll a clock with
a deadline; nothing sleeps for a fixed time."""

import signal
import sqlite3
import time
from pathlib import Path

import pytest

from .test_embedded_broker import embedded_env, migrate, start, stop

pytestmark = pytest.mark.slow


def lease_holder(db: Path) -> str | None:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT holder FROM stats_schedulerlease WHERE name = 'beat'").fetchone()
    return row[0] if row else None


def wait_for(what: str, condition, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_killing_the_acting_scheduler_hands_the_schedule_to_the_standby(tmp_path):
    env = embedded_env(tmp_path, CELERY_HEARTBEAT_SECONDS="1", SCHEDULER_LEASE_SECONDS="3")
    migrate(env)
    db = tmp_path / "portal.sqlite3"
    worker_log = tmp_path / "worker.log"
    worker = start(["worker", "--pool", "solo", "--loglevel", "INFO"], env, worker_log)
    beats = {
        name: start(
            ["beat", "--loglevel", "INFO", "--schedule", str(tmp_path / f"schedule-{name}")],
            env,
            tmp_path / f"beat-{name}.log",
        )
        for name in ("a", "b")
    }
    try:
        first = wait_for("a scheduler to take the lease", lambda: lease_holder(db))
        acting = next(n for n, p in beats.items() if first.endswith(f":{p.pid}"))
        standby = "b" if acting == "a" else "a"
        received = lambda: worker_log.read_text().count("beat heartbeat received")  # noqa: E731
        wait_for("the acting scheduler's tasks", lambda: received() >= 2)

        beats[acting].send_signal(signal.SIGKILL)  # no clean hand-over: the lease must lapse
        beats[acting].wait(timeout=10)
        before = received()
        second = wait_for(
            "the standby to take over",
            lambda: (h := lease_holder(db)) != first and h,
            seconds=30,
        )
        assert second.endswith(f":{beats[standby].pid}")
        wait_for("tasks from the standby", lambda: received() >= before + 2, seconds=30)
    finally:
        stop(*beats.values(), worker)
    log = (tmp_path / f"beat-{standby}.log").read_text()
    assert "took the scheduler lease" in log, log
