"""The rotation benchmarks' harness: a scratch database, an emulator with latency, a Celery
worker on Redis, and timed sweeps of due data sources end to end. Not a benchmark itself
(`run_all.py` skips files starting with `_`): `rotation.py`, `rotation_cpu.py` and
`rotation_wide.py` run it with their own figures.

`world(count)` registers `count` data sources at the emulator (no latency) and stores them;
`Run(...).once()` marks them all due, runs one sweep and waits until every one has rotated,
then reports throughput against the ideal in_flight / latency, CPU per rotation per process
group, the machine's CPU use and the PUT timeline seen by the emulator.

Needs PostgreSQL and Redis on localhost (as `make test` does).
"""

import base64
import datetime as dt
import os
import secrets
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._scratch import scratch_database  # noqa: E402

LATENCY_MS = 200
SCHEMA = "5397013b-7920-4ffc-807c-e8a3e0a18f43"
# Overridable so two people can bench on one machine without dropping each other's database.
DB = os.environ.get("BENCH_DATABASE", "byods_bench_rotation")
BROKER = os.environ.get("BENCH_BROKER", "redis://127.0.0.1:6379/14")


@contextmanager
def world(count: int, *, in_flight: int, workers: int):
    """A scratch database with `count` data sources registered at a fresh emulator, and a
    Celery worker of `workers` processes with in_flight / workers calls in flight each.
    Yields a `Bench` to run sweeps with."""
    from webex_emulator.testing import EmulatorProcess

    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    env = {
        "DJANGO_SETTINGS_MODULE": "byods_portal.settings",
        "DJANGO_DEBUG": "false",
        "PORTAL_READ_DOTENV": "false",
        "PORTAL_HTTPS": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "PORTAL_ENCRYPTION_KEYS": f"bench:{key}",
        "DATABASE_URL": scratch_database(DB),
        "CELERY_BROKER_URL": BROKER,
        "CELERY_RESULT_BACKEND": BROKER,
        "ROTATION_CONCURRENCY": str(in_flight // workers),
        # As deployed: a batch is 32 rounds of its process's calls (settings.py), so the tail
        # of a batch (threads idle while its last calls finish) is a small share of it.
        "ROTATION_BATCH_SIZE": os.environ.get("BENCH_BATCH_SIZE", str(32 * (in_flight // workers))),
        "ROTATION_SWEEP_LIMIT": str(max(count, 5000)),  # one sweep claims them all
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    import redis

    redis.Redis.from_url(BROKER).flushdb()
    (ROOT / "var").mkdir(exist_ok=True)
    with EmulatorProcess(["--log-level", "error"]) as emulator:
        env |= {
            "WEBEX_API_BASE": emulator.api_base,
            "WEBEX_IDBROKER_BASE": f"{emulator.base_url}/idb",
        }
        os.environ.update(env)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        register_all(setup_org(emulator.control), count)
        emulator.control.set_latency(LATENCY_MS)
        worker = subprocess.Popen(
            [
                sys.executable,
                *("-m", "celery", "-A", "byods_portal", "worker", "--pool", "prefork"),
                *("--concurrency", str(workers), "--loglevel", "WARNING"),
                *("--prefetch-multiplier", "1"),
            ],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=open(ROOT / "var" / "bench-rotation-worker.log", "w"),  # noqa: SIM115
        )
        try:
            time.sleep(4)  # let the worker connect
            yield Bench(count, in_flight, emulator, worker)
        finally:
            from django.db import connection

            connection.close()
            worker.terminate()
            worker.wait(timeout=30)


def series(count: int, *, in_flight: int, workers: int, runs: int) -> list["Result"]:
    """`runs` runs in a row in one world, each printed as it ends."""
    results = []
    with world(count, in_flight=in_flight, workers=workers) as bench:
        for run in range(1, runs + 1):
            results.append(bench.once())
            print(f"run {run}: {results[-1].describe()}", flush=True)
    return results


def setup_org(control):
    from audit.context import Actor, bound
    from tenants import services

    app = control.create_service_app(
        "Bench", valid_domains=["bench.example.com"], schema_ids=[SCHEMA]
    )
    webex_org = control.create_org("Bench Org")
    control.authorize(app["applicationId"], webex_org["id"])
    token = control.create_integration_token()
    with bound(actor=Actor.system("bench")):
        portal_app = services.serviceapp_create(
            name="Bench",
            client_id=app["clientId"],
            client_secret=app["clientSecret"],
            valid_domains=["bench.example.com"],
            schema_ids=[SCHEMA],
            region="us",
            integration_token=token["accessToken"],
        )
        return services.org_onboard(
            app=portal_app, webex_org_id=webex_org["id"], name="Bench Org", region="us"
        )


def register_all(org, count: int) -> None:
    """Register at the emulator (no latency yet) and store the rows in bulk: setup, not bench."""
    from datasources.models import DataSource
    from tenants.models import OrgToken
    from webex.client import WebexClient
    from webex.types import DataSourceRequest

    client = WebexClient.from_settings()
    access = OrgToken.objects.get(org=org).access_token

    def one(i: int):
        nonce = uuid.uuid4().hex
        remote = client.register_datasource(
            access_token=access,
            request=DataSourceRequest(
                schema_id=SCHEMA,
                url=f"https://rx{i}.bench.example.com/feed",
                audience="bench",
                subject=f"s{i}",
                nonce=nonce,
                token_lifetime_minutes=60,
            ),
        )
        return DataSource(
            org=org,
            webex_id=remote.id,
            schema_id=remote.schema_id,
            url=remote.url,
            audience="bench",
            subject=f"s{i}",
            token_lifetime_minutes=60,
            nonce=nonce,
            token_expires_at=remote.token_expiry_time,
        )

    started = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        rows = list(pool.map(one, range(count)))
    DataSource.objects.bulk_create(rows, batch_size=1000)
    print(f"registered {count} data sources in {time.monotonic() - started:.1f} s", flush=True)


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def connection_cursor():
    from django.db import connection

    return connection.cursor()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far, and of its children it has waited for."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    # After the ")" of the name: state is field 0; utime, stime, cutime, cstime are 11..14.
    return sum(int(f) for f in fields[11:15]) / CLOCK_TICKS


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (the Celery main process and its prefork children)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat[1])
    tree, frontier = [pid], [pid]
    while frontier:
        frontier = [child for child, parent in parents.items() if parent in frontier]
        tree += frontier
    return tree


class CpuMeter:
    """CPU seconds per process group during the run, from /proc (Linux only).

    PostgreSQL backends are sampled while they live (those of the bench database); CPU of
    backends that exit during the run is lost, so the figure is a lower bound when the worker
    does not keep its connections (it does: CONN_MAX_AGE, one connection per batch task).
    """

    def __init__(self, worker_pid: int, emulator_pid: int) -> None:
        self.worker_pid, self.emulator_pid = worker_pid, emulator_pid
        self.start: dict[str, float] = {}
        self.backends: dict[int, tuple[float, float]] = {}  # pid -> (first, last) sample

    def _pg_pids(self) -> list[int]:
        with connection_cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [DB],
            )
            return [row[0] for row in cursor.fetchall()]

    def sample_postgres(self) -> None:
        for pid in self._pg_pids():
            now = cpu_seconds(pid)
            first = self.backends.get(pid, (now, now))[0]
            self.backends[pid] = (first, now)

    def groups(self) -> dict[str, float]:
        return {
            "worker": sum(cpu_seconds(pid) for pid in process_tree(self.worker_pid)),
            "emulator": cpu_seconds(self.emulator_pid),
        }

    def begin(self) -> None:
        self.start = self.groups()
        self.sample_postgres()

    def used(self) -> dict[str, float]:
        """CPU seconds since `begin`: worker, emulator, postgres."""
        self.sample_postgres()
        used = {name: value - self.start[name] for name, value in self.groups().items()}
        used["postgres"] = sum(last - first for first, last in self.backends.values())
        return used


def at_webex(log: list[dict]) -> float:
    """Mean milliseconds a PUT spent at the emulator (from its request log)."""
    durations = [e["durationMs"] or 0 for e in log]
    return statistics.mean(durations) if durations else float("nan")


def timeline(log: list[dict], swept_at) -> str:
    """Where the time went, from the emulator's request log: how long after the sweep the
    first PUT arrived, the steady rate (median of one-second buckets), and the last PUT."""
    moments = sorted(dt.datetime.fromisoformat(e["time"].replace("Z", "+00:00")) for e in log)
    if not moments:
        return "no PUT reached the emulator"
    offsets = [(m - swept_at).total_seconds() for m in moments]
    buckets: dict[int, int] = {}
    for offset in offsets:
        buckets[int(offset)] = buckets.get(int(offset), 0) + 1
    inner = [buckets.get(i, 0) for i in range(int(offsets[0]) + 1, int(offsets[-1]))]
    steady = statistics.median(inner) if inner else float("nan")
    durations = [e["durationMs"] or 0 for e in log]
    busy = sum(durations) / 1000 / max(offsets[-1] - offsets[0], 1e-9)
    return (
        f"PUTs at Webex: first answered {offsets[0]:.2f} s after the sweep, steady {steady:.0f}/s "
        f"(median of full seconds), last answered at {offsets[-1]:.1f} s; each took "
        f"{statistics.mean(durations):.0f} ms at Webex on average, {busy:.1f} in flight there "
        "on average"
    )


@dataclass(frozen=True)
class Result:
    done: int
    elapsed: float
    ideal: float  # rotations per second: in flight / latency
    cpu_ms: dict[str, float]  # CPU per rotation by process group
    machine_busy: float  # share of all cores busy during the run (any process)
    timeline: str
    peak_in_flight: object
    at_webex_ms: float  # mean time of a PUT at the emulator; above LATENCY_MS, it waited too

    @property
    def rate(self) -> float:
        return self.done / self.elapsed

    @property
    def ratio(self) -> float:
        return self.rate / self.ideal

    @property
    def portal_cpu_ms(self) -> float:
        """The portal's side: the worker and PostgreSQL (the emulator stands in for Webex)."""
        return self.cpu_ms["worker"] + self.cpu_ms["postgres"]

    def describe(self) -> str:
        parts = ", ".join(f"{name} {ms:.2f}" for name, ms in self.cpu_ms.items())
        return (
            f"rotated {self.done} in {self.elapsed:.1f} s: {self.rate:.1f}/s, "
            f"{self.ratio:.2f} of the ideal {self.ideal:.0f}/s (emulator peak in flight "
            f"{self.peak_in_flight})\n  CPU ms per rotation: {parts}; portal side (worker + "
            f"postgres) {self.portal_cpu_ms:.2f}; machine {100 * self.machine_busy:.0f}% busy "
            f"over {os.cpu_count()} cores\n  {self.timeline}"
        )


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all cores so far, from /proc/stat."""
    fields = [int(f) for f in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def quiet_machine(busy: float = 0.15, longest: float = 60.0) -> None:
    """Wait (at most `longest` seconds) until the machine's cores are less than `busy` busy
    over a second: work left behind by what ran before (a checkpoint after another benchmark
    wrote a million rows, the previous run's vacuum) is not this run's."""
    deadline = time.monotonic() + longest
    while time.monotonic() < deadline:
        busy_start, total_start = machine_ticks()
        time.sleep(1)
        busy_end, total_end = machine_ticks()
        if (busy_end - busy_start) / max(total_end - total_start, 1) < busy:
            return


def redis_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "redis-server":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


@dataclass
class Bench:
    count: int
    in_flight: int
    emulator: object
    worker: subprocess.Popen

    def once(self) -> Result:
        """Mark every data source due, sweep once, wait until all have rotated."""
        from django.db import connection
        from django.utils import timezone

        from datasources.models import DataSource
        from datasources.tasks import rotation_sweep

        control = self.emulator.control
        quiet_machine()
        control.reset_stats()
        control.clear_requests_log()
        meter = CpuMeter(self.worker.pid, self.emulator.process.pid)
        brokers = redis_pids()
        broker_start = sum(cpu_seconds(pid) for pid in brokers)
        meter.begin()
        busy_start, total_start = machine_ticks()
        start_at = timezone.now()
        DataSource.objects.update(next_rotation_at=start_at - dt.timedelta(seconds=1))
        started, swept_at = time.monotonic(), timezone.now()
        rotation_sweep()
        deadline = started + 900
        done = 0
        while time.monotonic() < deadline:
            done = DataSource.objects.filter(last_rotated_at__gte=start_at).count()
            meter.sample_postgres()
            if done >= self.count:
                break
            time.sleep(0.2)
        elapsed = time.monotonic() - started
        busy_end, total_end = machine_ticks()
        cpu = meter.used()
        cpu["redis"] = sum(cpu_seconds(pid) for pid in brokers) - broker_start
        connection.close()
        log = control.requests_log(method="PUT")
        return Result(
            done=done,
            elapsed=elapsed,
            ideal=self.in_flight / (LATENCY_MS / 1000),
            cpu_ms={name: 1000 * value / max(done, 1) for name, value in cpu.items()},
            machine_busy=(busy_end - busy_start) / max(total_end - total_start, 1),
            timeline=timeline(log, swept_at),
            at_webex_ms=at_webex(log),
            peak_in_flight=control.stats().get("peakInFlight", "?"),
        )
