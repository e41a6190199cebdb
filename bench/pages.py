"""Dashboard and list render times at 10,000 orgs / 30,000 data sources versus 100 / 300
(target: ratio at most 1.5 for the worst page).

Builds two scratch PostgreSQL databases, `byods_bench_pages_small` (100 orgs) and
`byods_bench_pages_large` (10,000 orgs), with bulk rows: a mix of statuses and health, a week
of hourly rotation counters, the open alerts the orgs warrant. Each page (dashboard, org list,
data source list plain and filtered by health, alerts list) is rendered through Django's test
client, signed in as an operator, alternating between the two databases so that both sides
of the ratio see the same machine load (the machine is shared); each side's figure is the
best of REPEATS renders. Fleet aggregates are reused as deployed (30 s); a pass recomputing
them on every render is printed beside. The last line prints the worst ratio.
"""

import datetime as dt
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SMALL, LARGE = 100, 10_000  # orgs; 3 data sources each
REPEATS = 25
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DBS = {SMALL: "byods_bench_pages_small", LARGE: "byods_bench_pages_large"}


def scratch_databases() -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
        for name in DBS.values():
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {name}")


scratch_databases()
os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "byods_portal.settings_test",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DBS[SMALL]}",
        "LOG_LEVEL": "WARNING",
        "PORTAL_AGGREGATE_CACHE_SECONDS": "30",
    }
)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.roles import Role  # noqa: E402
from accounts.services import staff_user_create  # noqa: E402
from audit.context import Actor  # noqa: E402
from byods_portal.tests.bulk import build  # noqa: E402
from stats.counters import hour_start  # noqa: E402
from stats.models import RotationOutcomeHour  # noqa: E402

PAGES = {
    "dashboard": ("/", {}),
    "org list": ("/orgs/", {}),
    "data source list": ("/datasources/", {}),
    "data source list (at risk)": ("/datasources/", {"health": "at_risk"}),
    "alerts list": ("/alerts/", {}),
}


def use(size: int) -> None:
    """Point the default connection at the database of `size` orgs; forget cached figures."""
    connection.close()
    connection.settings_dict["NAME"] = DBS[size]
    cache.clear()


def counters(orgs: int) -> None:
    """A week of hourly rotation outcomes, scaled to the fleet (the table stays <= 168 x 4)."""
    now = hour_start(timezone.now())
    rows = []
    for h in range(168):
        hour = now - dt.timedelta(hours=h)
        rows.append(RotationOutcomeHour(hour=hour, outcome="rotated", count=orgs * 3 // 24))
        if h % 5 == 0:
            rows.append(RotationOutcomeHour(hour=hour, outcome="failed", count=1 + h % 7))
    RotationOutcomeHour.objects.bulk_create(rows)


def populate(size: int) -> Client:
    use(size)
    call_command("migrate", verbosity=0)
    user, _ = staff_user_create(
        email="bench@example.com", role=Role.OPERATOR, actor=Actor.system("bench")
    )
    started = time.monotonic()
    build(orgs=size)
    counters(size)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"  ({size:,} orgs built in {time.monotonic() - started:.0f} s)", flush=True)
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    return client


def render(client: Client, path: str, params: dict) -> float:
    client.get(path, params)  # after a switch: connect, warm the aggregates as deployed
    started = time.perf_counter()
    response = client.get(path, params)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, (path, response.status_code)
    return elapsed * 1000


def time_pages(clients: dict[int, Client], *, cold: bool) -> dict[int, dict[str, float]]:
    settings.PORTAL_AGGREGATE_CACHE_SECONDS = 0 if cold else 30
    best: dict[int, dict[str, float]] = {size: {} for size in clients}
    for name, (path, params) in PAGES.items():
        for _ in range(REPEATS):
            for size, client in clients.items():  # alternate: both see the same load
                use(size)
                ms = render(client, path, params)
                best[size][name] = min(best[size].get(name, ms), ms)
    return best


def main() -> None:
    clients = {size: populate(size) for size in (SMALL, LARGE)}
    warm = time_pages(clients, cold=False)
    cold = time_pages(clients, cold=True)
    for size in (SMALL, LARGE):
        for name in PAGES:
            print(
                f"{size:,} orgs / {size * 3:,} data sources: {name}: {warm[size][name]:.1f} ms "
                f"(aggregates recomputed: {cold[size][name]:.1f} ms)",
                flush=True,
            )
    cold_ratio = {name: cold[LARGE][name] / cold[SMALL][name] for name in PAGES}
    worst_cold = max(cold_ratio, key=cold_ratio.get)
    print(
        f"  (with aggregates recomputed on every render: {cold_ratio[worst_cold]:.2f}, "
        f"{worst_cold})"
    )
    ratios = {name: warm[LARGE][name] / warm[SMALL][name] for name in PAGES}
    worst = max(ratios, key=ratios.get)
    print(f"page render time ratio 10k/100: {ratios[worst]:.2f} (worst: {worst}; target <= 1.5)")


if __name__ == "__main__":
    main()
