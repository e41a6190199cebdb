"""The embedded (filesystem) broker carries tasks between separate processes.

`make run` uses it when no Redis is configured, with the worker and beat in their own
processes, so it is tested the same way: real subprocesses sharing one folder.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def embedded_env(var_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PORTAL_"))}
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "REDIS_URL"):
        env.pop(name, None)
    return (
        env
        | {
            "DJANGO_SETTINGS_MODULE": "byods_portal.settings",
            "DJANGO_DEBUG": "true",
            "PORTAL_READ_DOTENV": "false",
            "PORTAL_VAR_DIR": str(var_dir),
        }
        | extra
    )


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "byods_portal", *args],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def stop(*procs: subprocess.Popen) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_a_task_sent_by_one_process_runs_in_a_worker_in_another(tmp_path):
    env = embedded_env(tmp_path)
    worker = start(["worker", "--pool", "solo", "--loglevel", "INFO"], env, tmp_path / "w.log")
    try:
        sender = subprocess.run(
            [
                sys.executable,
                "-c",
                "import django; django.setup()\n"
                "from byods_portal.celery import ping\n"
                "print(ping.delay('across-processes').get(timeout=45))",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
        )
    finally:
        stop(worker)
    assert sender.returncode == 0, sender.stderr + (tmp_path / "w.log").read_text()
    assert sender.stdout.strip() == "pong:across-processes"
    assert "filesystem" in (tmp_path / "w.log").read_text()


def migrate(env: dict[str, str]) -> None:
    """Beat acts only while it holds the scheduler lease, which lives in the database."""
    done = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr


def test_beat_schedules_into_the_embedded_broker_and_a_worker_runs_it(tmp_path):
    env = embedded_env(tmp_path, CELERY_HEARTBEAT_SECONDS="1")
    migrate(env)
    worker_log = tmp_path / "worker.log"
    worker = start(["worker", "--pool", "solo", "--loglevel", "INFO"], env, worker_log)
    beat = start(["beat", "--loglevel", "INFO"], env, tmp_path / "beat.log")
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if worker_log.read_text().count("beat heartbeat received") >= 2:
                break
            time.sleep(0.5)
    finally:
        stop(beat, worker)
    log = worker_log.read_text()
    assert log.count("beat heartbeat received") >= 2, log + (tmp_path / "beat.log").read_text()
