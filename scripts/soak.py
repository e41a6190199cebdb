"""Soak test (`make soak`; not part of CI): the rotation engine under faults and crashes.

By default 2,000 data sources across 50 orgs with 2-minute token lifetimes rotate for 600 s
while the Webex emulator injects about 10 % faults on data source calls (429 with Retry-After,
500, 503, timeouts that still apply the change late, connection resets) plus latency with
jitter. Halfway through one of the two workers is killed with SIGKILL and restarted; at 70 %
the broker (a private redis-server on a free port) is stopped and started again. Beat drives
the rotation sweep every 5 s.

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
0 turns the storms off), SOAK_STORM_REQUESTS (10). Needs PostgreSQL on
localhost (a scratch database `byods_soak`) and `redis-server` on the PATH.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
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
STORM_SOURCES = int(os.environ.get("SOAK_STORM_SOURCES", "5"))
STORM_REQUESTS = int(os.environ.get("SOAK_STORM_REQUESTS", "10"))
STORM_EVERY = (3.0, 5.0)  # seconds from one storm to the next, drawn uniformly
STORM_OUTCOMES = {  # what a 200 from the rotate endpoint can say (RotationResult.outcome)
    "rotated",
    "in_progress",
    "already_rotated",
    "failed",
    "rate_limited",
    "skipped",
    "paused",
    "missing",
}
STORM_REQUEST_TIMEOUT = 60  # a rotate-now answers within the 20 s lease; this is a backstop
OVERLAP_TOLERANCE = dt.timedelta(milliseconds=10)  # the request log's times are whole milliseconds
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


def storm_keys(count: int) -> list[str]:
    """Operator API keys in the scratch database, one per concurrent storm caller: each key
    then sends at most STORM_SOURCES requests per storm, far inside PORTAL_API_RATE."""
    from accounts.roles import Role
    from accounts.services import apikey_create
    from audit.context import Actor

    actor = Actor.system("soak-setup")
    return [
        apikey_create(name=f"soak storm {i}", role=Role.OPERATOR, actor=actor)[1]
        for i in range(count)
    ]


class Storms(threading.Thread):
    """Every 3-5 s, STORM_REQUESTS concurrent "rotate now" API calls at each of STORM_SOURCES
    random data sources, all released together by one barrier. A storm starts only when the
    last one has been answered, so at most STORM_SOURCES x STORM_REQUESTS calls are open.
    `poke()` starts the next one at once (or as soon as the current one is answered): the
    main loop pokes when it kills the worker and when the broker is down, so storms surely
    meet both. Each data source's burst is recorded with its first send, last answer and the
    answers."""

    def __init__(self, base_url: str, keys: list[str], sources: list[tuple[str, str]]):
        super().__init__(name="soak-storms", daemon=True)
        self.base_url = base_url
        self.keys = keys
        self.sources = sources  # (public id, Webex id)
        self.bursts: list[dict] = []
        self.finish = threading.Event()
        self.wake = threading.Event()
        self.random = random.Random(11)  # noqa: S311 - picking data sources, not secrets
        self.pool = ThreadPoolExecutor(STORM_SOURCES * STORM_REQUESTS, "soak-storm")

    def run(self) -> None:
        try:
            while True:
                self.wake.wait(self.random.uniform(*STORM_EVERY))
                self.wake.clear()
                if self.finish.is_set():
                    break
                self.bursts.extend(self.storm())
        finally:
            self.pool.shutdown(wait=True)

    def poke(self) -> None:
        self.wake.set()

    def stop(self) -> None:
        self.finish.set()
        self.wake.set()
        self.join(timeout=STORM_REQUEST_TIMEOUT + 30)

    def storm(self) -> list[dict]:
        picked = self.random.sample(self.sources, min(STORM_SOURCES, len(self.sources)))
        barrier = threading.Barrier(len(picked) * STORM_REQUESTS)
        calls = {
            source: [
                self.pool.submit(self.ask, barrier, source[0], self.keys[i])
                for i in range(STORM_REQUESTS)
            ]
            for source in picked
        }
        bursts = []
        for (public_id, webex_id), futures in calls.items():
            answers = [future.result() for future in futures]
            bursts.append(
                {
                    "dataSource": public_id,
                    "webexId": webex_id,
                    "start": min(sent for sent, _, _ in answers),
                    "end": max(answered for _, answered, _ in answers),
                    "answers": [answer for _, _, answer in answers],
                }
            )
        return bursts

    def ask(self, barrier: threading.Barrier, public_id: str, key: str):
        """One "rotate now": (sent, answered, outcome or `HTTP <status>` or the error)."""
        import requests

        with contextlib.suppress(threading.BrokenBarrierError):  # a sibling failed: go anyway
            barrier.wait(timeout=30)
        sent = dt.datetime.now(dt.UTC)
        try:
            response = requests.post(
                f"{self.base_url}/api/v1/datasources/{public_id}/rotate/",
                headers={"Authorization": f"Bearer {key}"},
                timeout=STORM_REQUEST_TIMEOUT,
            )
            if response.status_code == 200:
                answer = str(response.json().get("outcome"))
            else:
                answer = f"HTTP {response.status_code}"
        except requests.RequestException as exc:
            answer = type(exc).__name__
        except ValueError:  # a 200 that is not JSON
            answer = "HTTP 200 without JSON"
        return sent, dt.datetime.now(dt.UTC), answer


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


def put_calls(request_log: list[dict]) -> dict[str, list[tuple]]:
    """The emulator's log of data source PUTs, per Webex id, in order of arrival: (arrived,
    ended, trackingId, nonce). A log entry is written when the call ends; it arrived
    `durationMs` before (latency and a timeout fault's hold included). A fault that fires
    before Webex reads the body (a status or a reset) leaves the nonce out (None)."""
    calls: dict[str, list[tuple]] = defaultdict(list)
    for entry in request_log:
        if entry["method"] != "PUT" or not entry["path"].startswith("/v1/dataSources/"):
            continue
        ended = parse_time(entry["time"])
        arrived = ended - dt.timedelta(milliseconds=entry["durationMs"])
        webex_id = entry["path"].rstrip("/").rsplit("/", 1)[-1]
        calls[webex_id].append((arrived, ended, entry["trackingId"], entry["nonce"]))
    for entries in calls.values():
        entries.sort(key=lambda call: call[0])
    return calls


def storm_figures(
    bursts: list[dict], request_log: list[dict], phases: dict[str, dt.datetime] | None = None
) -> dict:
    """What the storms sent and what reached Webex. For each burst (one data source,
    STORM_REQUESTS "rotate now" at once): the PUTs of that data source that arrived between
    its first request and its last answer, and how many distinct nonces among them no earlier
    PUT of that data source had carried: new rotations, target at most 1 per burst (sweep
    rotations in the window count too; single flight holds against them as well). A re-sent
    pending nonce is not new; a nonce that comes back after another is the reuse
    `nonce_figures` counts. Answers that are not a rotation outcome (HTTP errors, the
    client's own errors) are also counted by the phase their burst began in."""
    calls = put_calls(request_log)
    answers: Counter = Counter()
    errors_by_phase: dict[str, Counter] = defaultdict(Counter)
    new_per_burst: Counter = Counter()
    over, puts, unlogged = [], 0, 0
    for burst in bursts:
        answers.update(burst["answers"])
        for answer in burst["answers"]:
            if answer not in STORM_OUTCOMES:
                errors_by_phase[phase_of(burst["start"], phases or {})][answer] += 1
        seen: set[str] = set()
        new: list[str] = []
        for arrived, _ended, _tracking, nonce in calls.get(burst["webexId"], []):
            if arrived > burst["end"]:
                break
            if arrived >= burst["start"]:
                puts += 1
                if nonce is None:
                    unlogged += 1
                elif nonce not in seen:
                    new.append(nonce)
            if nonce is not None:
                seen.add(nonce)
        new_per_burst[len(new)] += 1
        if len(new) > 1:
            over.append(burst | {"newNonces": new})
    return {
        "bursts": len(bursts),
        "requests": sum(len(burst["answers"]) for burst in bursts),
        "answers": dict(answers),
        "errors_by_phase": {phase: dict(errors) for phase, errors in errors_by_phase.items()},
        "new_per_burst": dict(sorted(new_per_burst.items())),
        "most_new": max(new_per_burst, default=0),
        "over": over,
        "puts": puts,
        "unlogged": unlogged,
        "longest": max(
            ((b["end"] - b["start"]).total_seconds() for b in bursts), default=float("nan")
        ),
    }


def concurrent_puts(request_log: list[dict]) -> list[dict]:
    """PUTs of one data source at Webex at once from two callers: one arrived before another,
    with a different trackingId, had ended. Single flight forbids it whoever the callers are
    (sweep, storm, a recovery of a dead worker's nonce); only the client's own retry of a call
    that got no answer may overlap it, and that keeps the call's trackingId. Target 0."""
    found = []
    for webex_id, calls in put_calls(request_log).items():
        open_calls: list[tuple] = []
        for call in calls:
            arrived, _ended, tracking, nonce = call
            open_calls = [c for c in open_calls if c[1] > arrived + OVERLAP_TOLERANCE]
            for other in open_calls:
                if other[2] != tracking:
                    found.append(
                        {
                            "webexId": webex_id,
                            "first": {
                                "arrived": other[0],
                                "ended": other[1],
                                "trackingId": other[2],
                                "nonce": other[3],
                            },
                            "second": {"arrived": arrived, "trackingId": tracking, "nonce": nonce},
                        }
                    )
            open_calls.append(call)
    return found


def figures(
    state: dict,
    request_log: list[dict],
    bursts: list[dict],
    ended_at: dt.datetime,
    phases: dict[str, dt.datetime],
    storm_phases: dict[str, dt.datetime],
) -> dict:
    from audit.models import AuditEvent
    from audit.vocabulary import Action
    from datasources.models import DataSource

    result = nonce_figures(state["nonceHistory"], ended_at, phases)
    # Every change Webex accepted by PUT must be in the request log, or the log was trimmed
    # (it keeps the newest 100,000 calls) and the storm and overlap figures would miss some.
    logged = {entry["trackingId"] for entry in request_log}
    unlogged = sum(
        1
        for entry in state["nonceHistory"]
        if entry["operation"] == "update" and entry["trackingId"] not in logged
    )
    if unlogged:
        log(f"WARNING: {unlogged} accepted PUTs are missing from the request log (trimmed?)")
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
        "storms": storm_figures(bursts, request_log, storm_phases),
        "concurrent": concurrent_puts(request_log),
        "log_incomplete": unlogged,
    }


def keep_evidence(logs: Path, state: dict, request_log: list[dict], bursts: list[dict]) -> None:
    """The emulator's state, its PUT log and the storms under var/soak/, to read after a
    failure: the emulator goes with the run, the scratch database stays until the next."""
    import json

    (logs / "emulator-state.json").write_text(json.dumps(state))
    (logs / "emulator-puts.json").write_text(json.dumps(request_log))
    (logs / "storms.json").write_text(json.dumps(bursts, default=str))


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
    web: WebApp | None = None
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
            web = WebApp(full_env, logs / "web.log")
            web.start()
            sources = build_world(control)
            storms = None
            if STORM_SOURCES > 0:
                storms = Storms(
                    web.url,
                    storm_keys(STORM_REQUESTS),
                    [(str(ds.public_id), ds.webex_id) for ds in sources],
                )
            control.set_latency(LATENCY_MS, LATENCY_MS / 2)
            control.set_faults(fault_rules(), seed=7)
            phases["faults on"] = timezone.now()
            if storms:
                log(
                    f"storms: {STORM_SOURCES} data sources x {STORM_REQUESTS} concurrent "
                    f"'rotate now' every {STORM_EVERY[0]:.0f}-{STORM_EVERY[1]:.0f} s at {web.url}"
                )
                storms.start()
            started = time.monotonic()
            killed = restarted_broker = False
            broker_back = None
            load: list[float] = []  # the 1-minute load average, sampled every second
            while (elapsed := time.monotonic() - started) < SECONDS:
                load.append(os.getloadavg()[0])
                if not killed and elapsed >= SECONDS / 2:
                    log("SIGKILL worker1 (mid-batch), restarting it in 5 s")
                    phases["worker killed"] = timezone.now()
                    procs["worker1"].send_signal(signal.SIGKILL)
                    procs["worker1"].wait()
                    if storms:
                        storms.poke()
                    time.sleep(5)
                    procs["worker1"] = worker(1, full_env, logs)
                    killed = True
                if not restarted_broker and elapsed >= SECONDS * 0.7:
                    log("stopping the broker for 3 s (queued messages are lost)")
                    phases["broker restarted"] = timezone.now()
                    broker.stop()
                    if storms:
                        storms.poke()
                    time.sleep(3)
                    broker.start()
                    broker_back = timezone.now()
                    restarted_broker = True
                time.sleep(1)
            ended_at = timezone.now()
            if storms:
                storms.stop()
                log(f"storms stopped after {len(storms.bursts)} bursts")
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
            web.stop()
            log("reading the emulator's state and log and the portal's database")
            state, request_log = control.state(), control.requests_log(method="PUT")
            keep_evidence(logs, state, request_log, storms.bursts if storms else [])
            result = figures(
                state,
                request_log,
                storms.bursts if storms else [],
                ended_at,
                phases,
                phases | ({"broker back": broker_back} if broker_back else {}),
            )
            result["load"] = load
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if web:
            web.stop()
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
    storms, concurrent = result["storms"], result["concurrent"]
    print(
        f"storm bursts (x{STORM_REQUESTS} 'rotate now' at once):      {storms['bursts']} "
        f"(longest {storms['longest']:.1f} s)"
    )
    print(f"storm requests sent:                          {storms['requests']}")
    print(f"storm answers:                                {answers_text(storms['answers'])}")
    if storms["errors_by_phase"]:
        print(f"  answers that are no outcome, by phase:      {storms['errors_by_phase']}")
    print(
        f"PUTs with a new nonce per storm burst (<= 1): at most {storms['most_new']} "
        f"(bursts by count: {storms['new_per_burst']})"
    )
    print(
        f"PUTs during storm bursts:                     {storms['puts']} "
        f"(without a logged nonce: {storms['unlogged']})"
    )
    print(f"PUTs at Webex at once from two callers (0):   {len(concurrent)}")
    for burst in storms["over"][:10]:
        print(f"  burst with {len(burst['newNonces'])} new nonces: {burst}")
    for overlap in concurrent[:10]:
        print(f"  overlapping PUTs: {overlap}")
    load = result["load"] or [float("nan")]
    print(
        f"load average (1 min) during the run:          mean {sum(load) / len(load):.1f}, "
        f"max {max(load):.1f} on {os.cpu_count()} cores"
    )
    answered = sum(n for answer, n in storms["answers"].items() if answer in STORM_OUTCOMES)
    ok = not (
        result["lapsed"]
        or result["reused"]
        or result["disagree"]
        or result["unaudited"]
        or storms["most_new"] > 1
        or concurrent
        or result["log_incomplete"]
        or (STORM_SOURCES > 0 and not answered)  # storms that never reached the API
    )
    summary = (
        f"soak {'PASSED' if ok else 'FAILED'}: {COUNT} data sources, {SECONDS} s, "
        f"{result['rotations']} rotations, lapsed {result['lapsed']}, nonce reuse "
        f"{result['reused']}, disagreements {result['disagree']}, unaudited "
        f"{result['unaudited']}, worst remaining {result['worst']:.1f} s, "
        f"{storms['requests']} rotate-now in {storms['bursts']} storms, new-nonce PUTs per "
        f"storm at most {storms['most_new']}, concurrent PUTs {len(concurrent)}"
    )
    write_report(result, hits, summary)
    print(summary)
    return 0 if ok else 1


def answers_text(answers: dict[str, int]) -> str:
    return ", ".join(f"{answer} {n}" for answer, n in sorted(answers.items(), key=lambda a: -a[1]))


def write_report(result: dict, hits: int, summary: str) -> None:
    """bench/SOAK.md (full-size runs): the figures with the run's size, machine and date."""
    import platform

    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    storms, concurrent = result["storms"], result["concurrent"]
    load = result["load"] or [float("nan")]
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
        (
            "'rotate now' storm bursts (data sources x concurrent requests)",
            "",
            f"{storms['bursts']} x {STORM_REQUESTS}",
        ),
        ("storm requests sent", "", storms["requests"]),
        ("storm answers by outcome", "", answers_text(storms["answers"]) or "none"),
        (
            "storm answers that are no outcome, by the phase their burst began in",
            "",
            storms["errors_by_phase"] or "none",
        ),
        (
            "PUTs with a new nonce per storm burst",
            "≤ 1",
            f"at most {storms['most_new']} (bursts by count: "
            + ", ".join(f"{n}: {bursts}" for n, bursts in storms["new_per_burst"].items())
            + ")",
        ),
        (
            "PUTs that reached Webex during storm bursts (without a logged nonce)",
            "",
            f"{storms['puts']} ({storms['unlogged']})",
        ),
        ("PUTs of one data source at Webex at once from two callers", "0", len(concurrent)),
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
        "halfway and restarted, the broker restarted once; all along, 'rotate now' storms "
        f"through the API ({STORM_SOURCES} data sources x {STORM_REQUESTS} concurrent requests "
        f"every {STORM_EVERY[0]:.0f}-{STORM_EVERY[1]:.0f} s, gunicorn 2 workers x 8 threads). "
        f"Load average (1 min) during the run: mean {sum(load) / len(load):.1f}, max "
        f"{max(load):.1f}.\n\n"
        f"| figure | target | value |\n|---|---|---|\n{table}\n\n{summary}\n"
    )


if __name__ == "__main__":
    sys.exit(main())
