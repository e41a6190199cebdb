"""Soak test (`make soak`; not part of CI): the rotation engine under faults and crashes.

By default 2,000 data sources across 50 orgs with 2-minute token lifetimes rotate for 600 s
while the Webex emulator injects about 10 % faults on data source calls (429 with Retry-After,
500, 503, timeouts that still apply the change late, connection resets) plus latency with
jitter. Halfway through one of the two workers is killed with SIGKILL and restarted; at 70 %
the broker (a private redis-server on a free port) is stopped and started again. Beat drives
the rotation sweep every 5 s.

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
* the worst remaining lifetime seen at rotation time.

The last line is a one-line summary. Configure with SOAK_SECONDS (600), SOAK_DATASOURCES
(2000), SOAK_ORGS (50), SOAK_FAULT_RATE (0.10), SOAK_LATENCY_MS (50). Needs PostgreSQL on
localhost (a scratch database `byods_soak`) and `redis-server` on the PATH.
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
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECONDS = int(os.environ.get("SOAK_SECONDS", "600"))
COUNT = int(os.environ.get("SOAK_DATASOURCES", "2000"))
ORGS = int(os.environ.get("SOAK_ORGS", "50"))
FAULT_RATE = float(os.environ.get("SOAK_FAULT_RATE", "0.10"))
LATENCY_MS = float(os.environ.get("SOAK_LATENCY_MS", "50"))
LIFETIME_MINUTES = 2
SCHEMA = "5397013b-7920-4ffc-807c-e8a3e0a18f43"
DOMAIN = "soak.example.com"
DB = "byods_soak"
PG_ADMIN = os.environ.get("SOAK_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
FAULT_KINDS = [
    {"kind": "status", "status": 429, "retryAfter": 2},
    {"kind": "status", "status": 500},
    {"kind": "status", "status": 503},
    {"kind": "timeout", "delaySeconds": 4},  # longer than the client's read timeout below
    {"kind": "reset"},
]


def log(message: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", flush=True)


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


def build_world(control) -> list:
    """One Service App, ORGS orgs that authorized it, COUNT data sources registered through
    the portal's own service (so each registration is audited like any other)."""
    from django.db import connection

    from audit.context import Actor, bound
    from datasources.services import datasource_register
    from tenants import services

    app = control.create_service_app("Soak", valid_domains=[DOMAIN], schema_ids=[SCHEMA])
    token = control.create_integration_token()
    actor = Actor.system("soak-setup")
    with bound(actor=actor):
        portal_app = services.serviceapp_create(
            name="Soak",
            client_id=app["clientId"],
            client_secret=app["clientSecret"],
            valid_domains=[DOMAIN],
            schema_ids=[SCHEMA],
            region="us",
            integration_token=token["accessToken"],
        )
        orgs = []
        for i in range(ORGS):
            webex_org = control.create_org(f"Soak Org {i:02d}")
            control.authorize(app["applicationId"], webex_org["id"])
            orgs.append(
                services.org_onboard(
                    app=portal_app,
                    webex_org_id=webex_org["id"],
                    name=f"Soak Org {i:02d}",
                    region="us",
                )
            )

    def register(i: int):
        try:
            with bound(actor=actor):
                return datasource_register(
                    org=orgs[i % ORGS],
                    schema_id=SCHEMA,
                    url=f"https://rx{i}.{DOMAIN}/feed",
                    audience="soak",
                    subject=f"s{i}",
                    token_lifetime_minutes=LIFETIME_MINUTES,
                )
        finally:
            connection.close()

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        sources = list(pool.map(register, range(COUNT)))
    log(f"registered {COUNT} data sources in {ORGS} orgs in {time.monotonic() - started:.0f} s")
    return sources


def fault_rules() -> list[dict]:
    """Rules that together fire on about FAULT_RATE of data source calls, split evenly: rules
    are tried in order, so each later one's rate is raised to keep the shares equal."""
    share = FAULT_RATE / len(FAULT_KINDS)
    rules, left = [], 1.0
    for kind in FAULT_KINDS:
        rules.append({"pathRegex": "^/v1/dataSources", "rate": min(1.0, share / left), **kind})
        left -= share
    return rules


def parse_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def phase_of(at: dt.datetime, phases: dict[str, dt.datetime]) -> str:
    """The disturbance a lapse at `at` followed: the latest one that began before it."""
    began = [(when, name) for name, when in phases.items() if when <= at]
    return max(began)[1] if began else "setup"


def nonce_figures(
    nonce_history: list[dict], ended_at: dt.datetime, phases: dict[str, dt.datetime]
) -> dict:
    """From the emulator's nonce history alone: lapses, reused nonces, idempotent resends,
    the worst remaining lifetime at rotation, and how many changes each data source had."""
    lifetime = dt.timedelta(minutes=LIFETIME_MINUTES)
    history = defaultdict(list)  # data source id at Webex -> [(time, nonce)] in order
    for entry in nonce_history:
        history[entry["dataSourceId"]].append((parse_time(entry["time"]), entry["nonce"]))
    lapsed, resends, reused, worst = 0, 0, 0, None
    lapses_by_phase: Counter = Counter()
    owners: dict[str, set] = defaultdict(set)
    changes: dict[str, int] = {}
    for ds_id, entries in history.items():
        seen: set[str] = set()
        issued = []  # (time, nonce) of each accepted change, idempotent resends folded
        for at, nonce in entries:
            owners[nonce].add(ds_id)
            if issued and issued[-1][1] == nonce:
                resends += 1
                continue
            if nonce in seen:
                reused += 1
            seen.add(nonce)
            issued.append((at, nonce))
        changes[ds_id] = len(issued)
        for (before, _), (after, _) in zip(issued, issued[1:], strict=False):
            expired = before + lifetime
            if after > ended_at and expired > ended_at:
                continue  # rotated while draining, with beat stopped: not the engine's timing
            left = (expired - after).total_seconds()
            worst = left if worst is None else min(worst, left)
            if left <= 0:  # expired inside the soak window before its successor came
                lapsed += 1
                lapses_by_phase[phase_of(expired, phases)] += 1
        # The newest token must still have been valid when the soak ended.
        if issued and issued[-1][0] + lifetime <= ended_at:
            lapsed += 1
            lapses_by_phase[phase_of(issued[-1][0] + lifetime, phases)] += 1
    reused += sum(1 for ids in owners.values() if len(ids) > 1)
    return {
        "lapsed": lapsed,
        "reused": reused,
        "resends": resends,
        "worst": worst if worst is not None else float("nan"),
        "changes": changes,
        "lapses_by_phase": dict(lapses_by_phase),
    }


def figures(state: dict, ended_at: dt.datetime, phases: dict[str, dt.datetime]) -> dict:
    from audit.models import AuditEvent
    from audit.vocabulary import Action
    from datasources.models import DataSource

    result = nonce_figures(state["nonceHistory"], ended_at, phases)
    changes = result.pop("changes")
    remote = {d["id"]: d for d in state["dataSources"]}
    portal = {d.webex_id: d for d in DataSource.objects.filter(deleted_at__isnull=True)}

    disagree = 0
    for webex_id in set(remote) | set(portal):
        there, here = remote.get(webex_id), portal.get(webex_id)
        if there is None or here is None or here.pending_nonce:
            disagree += 1
            continue
        expiry_gap = abs(parse_time(there["tokenExpiryTime"]) - here.token_expires_at)
        if there["nonce"] != here.nonce or expiry_gap > dt.timedelta(seconds=2):
            disagree += 1

    audited = Counter()
    for target in AuditEvent.objects.filter(
        action__in=[Action.DATASOURCE_REGISTERED, Action.DATASOURCE_ROTATED],
        outcome=AuditEvent.Outcome.OK,
    ).values_list("target_id", flat=True):
        audited[str(target)] += 1
    unaudited = 0
    for webex_id, count in changes.items():
        ds = portal.get(webex_id)
        events = audited[str(ds.public_id)] if ds else 0
        unaudited += max(0, count - events)
    return result | {
        "disagree": disagree,
        "unaudited": unaudited,
        "rotations": sum(changes.values()) - len(changes),
    }


def drain(deadline_s: float = 180) -> None:
    """With beat stopped and faults off, finish what was in flight: a data source holding a
    pending nonce with no live claim (its batch died with a worker or the broker) is picked
    up by a sweep we send ourselves, as beat would have. Ends when nothing is claimed and
    nothing is pending (or at the deadline)."""
    from django.db import connection
    from django.db.models import Q
    from django.utils import timezone

    from datasources.models import DataSource
    from datasources.tasks import rotation_sweep

    deadline = time.monotonic() + deadline_s
    last_sweep = 0.0
    while time.monotonic() < deadline:
        now = timezone.now()
        live = DataSource.objects.filter(deleted_at__isnull=True)
        claimed = live.filter(claimed_until__gt=now).count()
        orphaned = (
            live.exclude(pending_nonce="")
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
            .count()
        )
        if claimed == 0 and orphaned == 0:
            break
        if claimed == 0 and time.monotonic() - last_sweep > 5:
            rotation_sweep.delay()
            last_sweep = time.monotonic()
        time.sleep(1)
    connection.close()


def main() -> int:
    from webex_emulator.testing import EmulatorProcess

    workdir = Path(tempfile.mkdtemp(prefix="byods-soak-"))
    logs = ROOT / "var" / "soak"
    logs.mkdir(parents=True, exist_ok=True)
    for old in logs.glob("*.log"):
        old.unlink()
    broker = Broker(workdir)
    broker.start()
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    env = {
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
        "WEBEX_CONNECT_TIMEOUT": "2",
        "WEBEX_READ_TIMEOUT": "3",
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    procs: dict[str, subprocess.Popen] = {}
    phases: dict[str, dt.datetime] = {}  # when each disturbance began, to place lapses
    try:
        with EmulatorProcess(["--log-level", "error"]) as emulator:
            control = emulator.control
            env |= {
                "WEBEX_API_BASE": emulator.api_base,
                "WEBEX_IDBROKER_BASE": f"{emulator.base_url}/idb",
                "WEBEX_EMULATOR_URL": emulator.base_url,
            }
            os.environ.update(env)
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
            full_env = {**os.environ, **env}
            procs["worker1"] = worker(1, full_env, logs)
            procs["worker2"] = worker(2, full_env, logs)
            procs["beat"] = start_celery(
                ["beat", "-s", str(workdir / "celerybeat-schedule")], full_env, logs / "beat.log"
            )
            build_world(control)
            control.set_latency(LATENCY_MS, LATENCY_MS / 2)
            control.set_faults(fault_rules(), seed=7)
            phases["faults on"] = timezone.now()
            started = time.monotonic()
            killed = restarted_broker = False
            while (elapsed := time.monotonic() - started) < SECONDS:
                if not killed and elapsed >= SECONDS / 2:
                    log("SIGKILL worker1 (mid-batch), restarting it in 5 s")
                    phases["worker killed"] = timezone.now()
                    procs["worker1"].send_signal(signal.SIGKILL)
                    procs["worker1"].wait()
                    time.sleep(5)
                    procs["worker1"] = worker(1, full_env, logs)
                    killed = True
                if not restarted_broker and elapsed >= SECONDS * 0.7:
                    log("stopping the broker for 3 s (queued messages are lost)")
                    phases["broker restarted"] = timezone.now()
                    broker.stop()
                    time.sleep(3)
                    broker.start()
                    restarted_broker = True
                time.sleep(1)
            ended_at = timezone.now()
            log("time is up: stopping beat, faults off, draining the work in flight")
            procs["beat"].terminate()
            procs["beat"].wait(timeout=30)
            hits = sum(rule.get("hits", 0) for rule in control.get_faults()["rules"])
            control.clear_faults()
            drain()
            for name in ("worker1", "worker2"):
                procs[name].terminate()
            for name in ("worker1", "worker2"):
                procs[name].wait(timeout=60)
            log("reading the emulator's state and the portal's database")
            result = figures(control.state(), ended_at, phases)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        broker.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"rotations accepted by Webex:                  {result['rotations']}")
    print(f"faults injected (last rule set):              {hits}")
    print(f"tokens that lapsed (target 0):                {result['lapsed']}")
    if result["lapses_by_phase"]:
        print(f"  lapses after each disturbance began:        {result['lapses_by_phase']}")
    print(
        f"nonces used twice (target 0):                 {result['reused']} "
        f"(idempotent resends of a pending nonce: {result['resends']})"
    )
    print(f"portal/emulator disagreements (target 0):     {result['disagree']}")
    print(f"state changes without an audit event (0):     {result['unaudited']}")
    print(f"worst remaining lifetime at rotation:         {result['worst']:.1f} s")
    ok = not (result["lapsed"] or result["reused"] or result["disagree"] or result["unaudited"])
    summary = (
        f"soak {'PASSED' if ok else 'FAILED'}: {COUNT} data sources, {SECONDS} s, "
        f"{result['rotations']} rotations, lapsed {result['lapsed']}, nonce reuse "
        f"{result['reused']}, disagreements {result['disagree']}, unaudited "
        f"{result['unaudited']}, worst remaining {result['worst']:.1f} s"
    )
    write_report(result, hits, summary)
    print(summary)
    return 0 if ok else 1


def write_report(result: dict, hits: int, summary: str) -> None:
    """bench/SOAK.md (full-size runs): the figures with the run's size, machine and date."""
    import platform

    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    rows = [
        ("rotations accepted by Webex", "", result["rotations"]),
        ("faults injected", f"~{FAULT_RATE:.0%} of data source calls", hits),
        ("tokens that lapsed", "0", result["lapsed"]),
        ("lapses after each disturbance began", "", result["lapses_by_phase"] or "none"),
        ("nonces used twice", "0", result["reused"]),
        ("idempotent resends of a pending nonce", "", result["resends"]),
        ("data sources where portal and emulator disagree", "0", result["disagree"]),
        ("state changes without an audit event", "0", result["unaudited"]),
        ("worst remaining lifetime at rotation (s)", "> 0", f"{result['worst']:.1f}"),
    ]
    table = "\n".join(f"| {name} | {target} | {value} |" for name, target, value in rows)
    full = SECONDS >= 600 and COUNT >= 2000
    # Only a full-size run replaces the committed figures; a quick run reports under var/.
    target = ROOT / "bench" / "SOAK.md" if full else ROOT / "var" / "soak" / "SOAK.md"
    target.write_text(
        "# Soak test results\n\n"
        f"Measured {now} on {platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()} by `make soak` (`scripts/soak.py`): "
        f"{COUNT} data sources in {ORGS} orgs, {LIFETIME_MINUTES}-minute tokens, {SECONDS} s, "
        f"{FAULT_RATE:.0%} faults, {LATENCY_MS:.0f} ms latency, one worker killed with SIGKILL "
        "halfway and restarted, the broker restarted once.\n\n"
        f"| figure | target | value |\n|---|---|---|\n{table}\n\n{summary}\n"
    )


if __name__ == "__main__":
    sys.exit(main())
