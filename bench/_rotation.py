"""Rotation throughput end to end: 5,000 due data sources, emulator at 200 ms latency, 32 calls
in flight, through Redis, a Celery worker and PostgreSQL (target: at least 85 % of the ideal
32 / 0.2 s = 160 rotations per second).

Needs PostgreSQL and Redis on localhost (as `make test` does). Builds a scratch database, starts
an emulator and a worker as subprocesses, registers the data sources at the emulator, marks them
all due, runs one sweep and waits until every one has rotated. The last line prints the ratio.
"""

import base64
import datetime as dt
import os
import secrets
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._scratch import scratch_database  # noqa: E402

COUNT = int(os.environ.get("BENCH_ROTATIONS", "5000"))
LATENCY_MS = 200
IN_FLIGHT = 32
# Worker processes, each running one batch task at a time with IN_FLIGHT / WORKERS calls in
# flight: 32 in all. More processes than cores on purpose: a rotation holds the GIL only for
# its few milliseconds of CPU, and fewer threads per process wait less for it. Measured on
# this 2-core machine: 2 x 16 -> 0.84-0.86, 4 x 8 -> 0.89, 8 x 4 -> 0.74 (CPU contention).
WORKERS = int(os.environ.get("BENCH_ROTATION_WORKERS", "4"))
THREADS = IN_FLIGHT // WORKERS
# Overridable so two people can bench on one machine without dropping each other's database.
DB = os.environ.get("BENCH_DATABASE", "byods_bench_rotation")
BROKER = os.environ.get("BENCH_BROKER", "redis://127.0.0.1:6379/14")


def main() -> None:
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
        "ROTATION_CONCURRENCY": str(THREADS),
        # The default batch size: with 100 each worker paid a batch tail (threads idle while
        # the last calls of a batch finish) 25 times instead of 10.
        "ROTATION_BATCH_SIZE": "256",
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    import redis

    redis.Redis.from_url(BROKER).flushdb()
    with EmulatorProcess(["--log-level", "error"]) as emulator:
        os.environ["WEBEX_API_BASE"] = emulator.api_base
        os.environ["WEBEX_IDBROKER_BASE"] = f"{emulator.base_url}/idb"
        env |= {
            "WEBEX_API_BASE": emulator.api_base,
            "WEBEX_IDBROKER_BASE": f"{emulator.base_url}/idb",
        }
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        org = setup_world(emulator.control)
        register_all(org)
        run(env, org, emulator)


def setup_world(control):
    from audit.context import Actor, bound
    from tenants import services

    app = control.create_service_app(
        "Bench",
        valid_domains=["bench.example.com"],
        schema_ids=["5397013b-7920-4ffc-807c-e8a3e0a18f43"],
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
            schema_ids=["5397013b-7920-4ffc-807c-e8a3e0a18f43"],
            region="us",
            integration_token=token["accessToken"],
        )
        return services.org_onboard(
            app=portal_app, webex_org_id=webex_org["id"], name="Bench Org", region="us"
        )


def register_all(org) -> None:
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
                schema_id="5397013b-7920-4ffc-807c-e8a3e0a18f43",
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
        rows = list(pool.map(one, range(COUNT)))
    DataSource.objects.bulk_create(rows, batch_size=1000)
    print(f"registered {COUNT} data sources in {time.monotonic() - started:.1f} s", flush=True)


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
    does not keep its connections.
    """

    def __init__(self, worker_pid: int, emulator_pid: int) -> None:
        self.worker_pid, self.emulator_pid = worker_pid, emulator_pid
        self.start: dict[str, float] = {}
        self.backends: dict[int, tuple[float, float]] = {}  # pid -> (first, last) sample

    def _postmaster_children(self) -> float:
        """CPU of every exited PostgreSQL backend (any database: noisy on a shared machine)."""
        with connection_cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (backend,) = cursor.fetchone()
        stat = Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()
        fields = Path(f"/proc/{stat[1]}/stat").read_text().rsplit(")", 1)[1].split()
        return sum(int(f) for f in fields[13:15]) / CLOCK_TICKS

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
        self.exited = self._postmaster_children()
        self.sample_postgres()

    def report(self, done: int) -> str:
        self.sample_postgres()
        used = {name: value - self.start[name] for name, value in self.groups().items()}
        used["postgres"] = sum(last - first for first, last in self.backends.values())
        exited = self._postmaster_children() - self.exited
        per = {name: 1000 * value / max(done, 1) for name, value in used.items()}
        parts = ", ".join(f"{name} {ms:.1f}" for name, ms in per.items())
        return (
            f"CPU ms per rotation: {parts}; total {sum(per.values()):.1f} "
            f"({len(self.backends)} postgres backends seen; exited backends of any database "
            f"{1000 * exited / max(done, 1):.1f} more)"
        )


def run(env: dict, org, emulator) -> None:
    from django.db import connection
    from django.utils import timezone

    from datasources.models import DataSource
    from datasources.tasks import rotation_sweep

    emulator.control.set_latency(LATENCY_MS)
    emulator.control.reset_stats()
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "byods_portal",
            "worker",
            "--pool",
            "prefork",
            "--concurrency",
            str(WORKERS),
            "--loglevel",
            "WARNING",
            "--prefetch-multiplier",
            "1",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=open(ROOT / "var" / "bench-rotation-worker.log", "w"),  # noqa: SIM115
    )
    try:
        time.sleep(4)  # let the worker connect
        meter = CpuMeter(worker.pid, emulator.process.pid)
        meter.begin()
        start_at = timezone.now()
        DataSource.objects.update(next_rotation_at=start_at - dt.timedelta(seconds=1))
        started = time.monotonic()
        rotation_sweep()
        deadline = started + 600
        done = 0
        while time.monotonic() < deadline:
            done = DataSource.objects.filter(last_rotated_at__gte=start_at).count()
            meter.sample_postgres()
            if done >= COUNT:
                break
            time.sleep(0.2)
        elapsed = time.monotonic() - started
        cpu = meter.report(done)
        connection.close()
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    stats = emulator.control.stats()
    rate = done / elapsed
    ideal = IN_FLIGHT / (LATENCY_MS / 1000)
    print(
        f"rotated {done}/{COUNT} in {elapsed:.1f} s: {rate:.1f}/s "
        f"(ideal {ideal:.0f}/s; emulator peak in flight {stats.get('peakInFlight', '?')})"
    )
    print(cpu)
    print(f"rotation throughput vs ideal: {rate / ideal:.2f} (target >= 0.85)")


if __name__ == "__main__":
    main()
