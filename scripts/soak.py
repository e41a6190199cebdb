"""Soak test (`make soak`; not part of CI): the rotation engine under faults and crashes.

By default 2,000 data sources across 50 orgs with 2-minute token lifetimes rotate for 600 s
while the Webex emulator injects about 10 % faults on data source calls (429 with Retry-After,
500, 503, timeouts that still apply the change late, connection resets) plus latency with
jitter. Two schedulers run (`celery beat`, one acting under the database lease, one standing
by); at 10 % the acting one is killed with SIGKILL and kept dead for SOAK_BEAT_DOWN_SECONDS
(180, longer than a token's lifetime), so the standby must take over. Halfway through one of
the two workers is killed with SIGKILL and restarted; at 70 % the broker (a private
redis-server on a free port) is stopped and started again. Beat drives the rotation sweep
every 5 s.

The portal's web app runs too (gunicorn, 2 workers x 8 threads, the workers' environment), and
all through the faults, the worker kill and the broker restart a storm thread fires "rotate
now" at it: every 3-5 s it picks SOAK_STORM_SOURCES (5) data sources at random and sends each
SOAK_STORM_REQUESTS (10) `POST /api/v1/datasources/{id}/rotate/` at once (loopback, one
operator API key per concurrent caller, so no key nears its rate limit), recording every
answer.

At the end beat stops, the remaining work drains with faults off, and the script compares the
emulator's state (`/_emulator/state`: every nonce each data source ever had, with times) with
the portal's database and prints:

* tokens that lapsed: a data source whose token expired before the next one was issued, or had
  expired when the soak ended (target 0);
* nonces used twice: a nonce that came back after another one, or under two data sources
  (target 0; a retry repeating the pending nonce right away is the idempotent resend, counted
  apart);
* data sources where the portal and the emulator disagree on nonce, expiry or presence (0);
* state changes without an audit event: nonces Webex accepted minus the registration and
  rotation events the audit trail has for that data source (0);
* the worst remaining lifetime seen at rotation time;
* storm requests sent and their answers by outcome (`rotated`, `in_progress`,
  `already_rotated`, `failed`, `rate_limited`, ..., `HTTP <status>` or the client's error);
* PUTs with a new nonce per storm burst, from the emulator's request log: the PUTs of the
  storm's data source that arrived between its first request and its last answer, counting
  those whose nonce no earlier PUT of that data source carried (target at most 1);
* PUTs of one data source at Webex at once from two callers (overlapping in the request log
  with different trackingIds; the client's own retries keep theirs): single flight's witness
  over the whole run, storms or not (target 0).

The last line is a one-line summary. Configure with SOAK_SECONDS (600), SOAK_DATASOURCES
(2000), SOAK_ORGS (50), SOAK_FAULT_RATE (0.10), SOAK_LATENCY_MS (50), SOAK_STORM_SOURCES (5;
0 turns the storms off), SOAK_STORM_REQUESTS (10), SOAK_BEAT_DOWN_SECONDS (180). Needs PostgreSQL on
localhost (a scratch database `byods_soak`) and `redis-server` on the PATH.

This file runs the soak (`Run`, `main`); its pieces live beside it: soak_config (the knobs),
soak_processes (database, broker, web app, workers), soak_world (the world, the faults, the
drain), soak_storms, soak_figures (the judge) and soak_report (printing, bench/SOAK.md).
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
if str(HERE) not in sys.path:  # loaded from its file (the tests do) rather than run
    sys.path.append(str(HERE))

from soak_config import (  # noqa: E402
    BEAT_DOWN_SECONDS,
    COUNT,
    FAULT_RATE,
    LATENCY_MS,
    LIFETIME_MINUTES,
    ORGS,
    SECONDS,
    STORM_EVERY,
    STORM_REQUESTS,
    STORM_SOURCES,
    log,
)
from soak_figures import concurrent_puts, figures, nonce_figures, storm_figures  # noqa: E402
from soak_processes import Broker, WebApp, scratch_database, start_celery, worker  # noqa: E402
from soak_report import print_figures, verdict, write_report  # noqa: E402
from soak_storms import Storms, storm_keys  # noqa: E402
from soak_world import build_world, drain, fault_rules, keep_evidence  # noqa: E402

# byods_portal/tests/test_soak_figures.py loads this file and reaches the judge through it.
__all__ = ["FAULT_RATE", "concurrent_puts", "fault_rules", "main", "nonce_figures", "storm_figures"]


def portal_env(workdir: Path, broker: Broker) -> dict:
    """The portal's environment for the workers, beat and web app (creates the scratch
    database); `Run.start` adds the emulator's URLs."""
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    return {
        "DJANGO_SETTINGS_MODULE": "byods_portal.settings",
        "DJANGO_DEBUG": "false",
        "PORTAL_READ_DOTENV": "false",
        "PORTAL_HTTPS": "false",
        "PORTAL_VAR_DIR": str(workdir),
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "PORTAL_ENCRYPTION_KEYS": f"soak:{key}",
        "DATABASE_URL": scratch_database(),
        "CELERY_BROKER_URL": broker.url,
        "CELERY_RESULT_BACKEND": broker.url,
        "REDIS_URL": broker.url,
        "ROTATION_SWEEP_SECONDS": "5",
        # The production default of 32 calls in flight per batch; batches of 100 and a 20 s
        # lease (not 300 s): claims lost with a killed worker or a restarted broker come back
        # before a 2-minute token, due with 36 s left, can lapse.
        "ROTATION_BATCH_SIZE": "100",
        "ROTATION_CONCURRENCY": "32",
        "ROTATION_LEASE_SECONDS": "20",
        # A standby scheduler takes over within 10 s of the acting one's death (plus a
        # third of it to notice): well inside the 36 s a due 2-minute token has left.
        "SCHEDULER_LEASE_SECONDS": "10",
        "WEBEX_CONNECT_TIMEOUT": "2",
        "WEBEX_READ_TIMEOUT": "3",
        "LOG_LEVEL": "WARNING",
    }


class Run:
    """One soak, in the order `main` calls it: start the portal against the emulator, disturb
    it for SECONDS, wind down, judge. It keeps what it started, so `close` stops all of it
    whatever failed, and when each disturbance began, to place lapses and storm errors."""

    def __init__(self, workdir: Path, logs: Path, broker: Broker, env: dict):
        self.workdir = workdir
        self.logs = logs
        self.broker = broker
        self.env = env
        self.full_env: dict = {}
        self.procs: dict[str, subprocess.Popen] = {}
        self.phases: dict[str, dt.datetime] = {}  # when each disturbance began, to place lapses
        self.broker_back: dt.datetime | None = None
        self.web: WebApp | None = None
        self.storms: Storms | None = None
        self.load: list[float] = []  # the 1-minute load average, sampled every second
        self.dead_beat = ""  # the scheduler killed while it acted, and its lease holder name
        self.dead_holder = ""
        self.takeover: float | None = None  # seconds until the standby held the lease

    def start(self, emulator) -> None:
        """Migrate the scratch database, start the workers, beat and the web app, build the
        world, then turn latency and faults on and start the storms."""
        control = self.emulator_env(emulator)
        import django

        django.setup()
        from django.core.management import call_command
        from django.utils import timezone

        call_command("migrate", verbosity=0)
        log(
            f"{COUNT} data sources, {ORGS} orgs, {LIFETIME_MINUTES}-minute tokens, "
            f"{SECONDS} s, {FAULT_RATE:.0%} faults, {LATENCY_MS:.0f} ms latency"
        )
        # Workers and beat first: the first data sources fall due (after 60 s) while the
        # last are still being registered, and must not find a backlog.
        full_env = self.full_env = {**os.environ, **self.env}
        self.procs["worker1"] = worker(1, full_env, self.logs)
        self.procs["worker2"] = worker(2, full_env, self.logs)
        for name in ("beat", "beat-standby"):
            self.procs[name] = self.beat(name)
        web = self.web = WebApp(full_env, self.logs / "web.log")
        web.start()
        sources = build_world(control)
        if STORM_SOURCES > 0:
            self.storms = Storms(
                web.url,
                storm_keys(STORM_REQUESTS),
                [(str(ds.public_id), ds.webex_id) for ds in sources],
            )
        control.set_latency(LATENCY_MS, LATENCY_MS / 2)
        control.set_faults(fault_rules(), seed=7)
        self.phases["faults on"] = timezone.now()
        if self.storms:
            log(
                f"storms: {STORM_SOURCES} data sources x {STORM_REQUESTS} concurrent "
                f"'rotate now' every {STORM_EVERY[0]:.0f}-{STORM_EVERY[1]:.0f} s at {web.url}"
            )
            self.storms.start()

    def beat(self, name: str) -> subprocess.Popen:
        return start_celery(
            ["beat", "-s", str(self.workdir / f"{name}-schedule")],
            self.full_env,
            self.logs / f"{name}.log",
        )

    def emulator_env(self, emulator):
        """Point the portal at the emulator (in this process too); its control client."""
        self.env |= {
            "WEBEX_API_BASE": emulator.api_base,
            "WEBEX_IDBROKER_BASE": f"{emulator.base_url}/idb",
            "WEBEX_EMULATOR_URL": emulator.base_url,
        }
        os.environ.update(self.env)
        return emulator.control

    def disturb(self) -> dt.datetime:
        """SECONDS of rotation: halfway the worker is killed, at 70 % the broker restarted.
        Returns when the time was up."""
        from django.utils import timezone

        started = time.monotonic()
        killed = restarted_broker = False
        beat_killed_at: float | None = None
        beat_back = False
        while (elapsed := time.monotonic() - started) < SECONDS:
            self.load.append(os.getloadavg()[0])
            if beat_killed_at is None and elapsed >= SECONDS * 0.1:
                beat_killed_at = elapsed
                self.dead_beat = self.kill_acting_beat()
            if self.dead_beat and self.takeover is None:
                self.takeover = self.lease_moved(beat_killed_at or 0.0, elapsed)
            if (
                not beat_back
                and beat_killed_at is not None
                and (elapsed >= beat_killed_at + BEAT_DOWN_SECONDS)
            ):
                log(f"restarting {self.dead_beat} (it stands by now)")
                self.procs[self.dead_beat] = self.beat(self.dead_beat)
                self.phases["beat restarted"] = timezone.now()
                beat_back = True
            if not killed and elapsed >= SECONDS / 2:
                self.kill_worker()
                killed = True
            if not restarted_broker and elapsed >= SECONDS * 0.7:
                self.restart_broker()
                restarted_broker = True
            time.sleep(1)
        return timezone.now()

    def kill_acting_beat(self) -> str:
        """SIGKILL the scheduler holding the lease (no clean hand-over); its name."""
        from django.utils import timezone

        from stats.models import SchedulerLease

        holder = SchedulerLease.objects.get(name="beat").holder
        self.dead_holder = holder
        name = next(n for n in ("beat", "beat-standby") if holder.endswith(f":{self.procs[n].pid}"))
        log(f"SIGKILL the acting scheduler ({name}, {holder}) for {BEAT_DOWN_SECONDS:.0f} s")
        self.phases["acting beat killed"] = timezone.now()
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait()
        return name

    def lease_moved(self, killed_at: float, now: float) -> float | None:
        """Seconds from the kill to the standby's first tick as holder, once it happened."""
        from stats.models import SchedulerLease

        if SchedulerLease.objects.get(name="beat").holder == self.dead_holder:
            return None
        log(f"the standby scheduler took over {now - killed_at:.1f} s after the kill")
        return now - killed_at

    def kill_worker(self) -> None:
        from django.utils import timezone

        log("SIGKILL worker1 (mid-batch), restarting it in 5 s")
        self.phases["worker killed"] = timezone.now()
        self.procs["worker1"].send_signal(signal.SIGKILL)
        self.procs["worker1"].wait()
        if self.storms:
            self.storms.poke()
        time.sleep(5)
        self.procs["worker1"] = worker(1, self.full_env, self.logs)

    def restart_broker(self) -> None:
        from django.utils import timezone

        log("stopping the broker for 3 s (queued messages are lost)")
        self.phases["broker restarted"] = timezone.now()
        self.broker.stop()
        if self.storms:
            self.storms.poke()
        time.sleep(3)
        self.broker.start()
        self.broker_back = timezone.now()

    def wind_down(self, control) -> int:
        """Stop the storms and beat, turn the faults off, drain the work in flight, stop the
        workers and the web app. Returns how often the faults fired."""
        if self.storms:
            self.storms.stop()
            log(f"storms stopped after {len(self.storms.bursts)} bursts")
        log("time is up: stopping the schedulers, faults off, draining the work in flight")
        for name in ("beat", "beat-standby"):
            self.procs[name].terminate()
        for name in ("beat", "beat-standby"):
            self.procs[name].wait(timeout=30)
        hits = sum(rule.get("hits", 0) for rule in control.get_faults()["rules"])
        control.clear_faults()
        drain()
        for name in ("worker1", "worker2"):
            self.procs[name].terminate()
        for name in ("worker1", "worker2"):
            self.procs[name].wait(timeout=60)
        self.web.stop()  # started in start()
        return hits

    def judge(self, control, ended_at: dt.datetime) -> dict:
        """The figures, from the emulator's state and PUT log and the portal's database (the
        evidence is kept under var/soak/ first)."""
        log("reading the emulator's state and log and the portal's database")
        state, request_log = control.state(), control.requests_log(method="PUT")
        bursts = self.storms.bursts if self.storms else []
        keep_evidence(self.logs, state, request_log, bursts)
        broker_back = {"broker back": self.broker_back} if self.broker_back else {}
        result = figures(
            state, request_log, bursts, ended_at, self.phases, self.phases | broker_back
        )
        result["load"] = self.load
        result["takeover"] = self.takeover
        return result

    def close(self) -> None:
        """Stop whatever is still running and remove the working directory."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if self.web:
            self.web.stop()
        self.broker.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def main() -> int:
    from webex_emulator.testing import EmulatorProcess

    workdir = Path(tempfile.mkdtemp(prefix="byods-soak-"))
    logs = ROOT / "var" / "soak"
    logs.mkdir(parents=True, exist_ok=True)
    for old in logs.glob("*.log"):
        old.unlink()
    broker = Broker(workdir)
    broker.start()
    run = Run(workdir, logs, broker, portal_env(workdir, broker))
    os.environ.update(run.env)
    try:
        with EmulatorProcess(["--log-level", "error"]) as emulator:
            run.start(emulator)
            ended_at = run.disturb()
            hits = run.wind_down(emulator.control)
            result = run.judge(emulator.control, ended_at)
    finally:
        run.close()
    print_figures(result, hits)
    ok, summary = verdict(result)
    write_report(result, hits, summary)
    print(summary)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
