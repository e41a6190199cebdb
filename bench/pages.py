"""Dashboard and list render times at 10,000 orgs / 30,000 data sources versus 100 / 300
(target: ratio at most 1.5 for the worst page).

Builds a scratch PostgreSQL database `byods_bench_pages`, fills it with bulk rows (a mix of
statuses and health, a week of hourly rotation counters, the open alerts the orgs warrant),
and renders each page through Django's test client signed in as an operator: the dashboard,
the org list, the data source list (plain and filtered by health) and the alerts list. Times
are the best of repeated renders (cached fleet aggregates, as deployed; a pass
that recomputes them on every render is printed beside); the last line prints the worst ratio.
"""

import datetime as dt
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SMALL, LARGE = 100, 10_000  # orgs; 3 data sources each
REPEATS = 21
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
BENCH_DB = "byods_bench_pages"


def scratch_database() -> str:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {BENCH_DB}")
    return f"postgres://postgres@127.0.0.1:5432/{BENCH_DB}"


os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "byods_portal.settings_test",
        "DATABASE_URL": scratch_database(),
        "LOG_LEVEL": "WARNING",
        # As deployed: fleet-wide aggregates are reused for 30 s (a cold pass is printed too).
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


def counters(orgs: int) -> None:
    """A week of hourly rotation outcomes, scaled to the fleet (the table stays <= 168 x 4)."""
    RotationOutcomeHour.objects.all().delete()
    now = hour_start(timezone.now())
    rows = []
    for h in range(168):
        hour = now - dt.timedelta(hours=h)
        rows.append(RotationOutcomeHour(hour=hour, outcome="rotated", count=orgs * 3 // 24))
        if h % 5 == 0:
            rows.append(RotationOutcomeHour(hour=hour, outcome="failed", count=1 + h % 7))
    RotationOutcomeHour.objects.bulk_create(rows)


def analyze() -> None:
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def time_pages(client: Client, *, cold: bool = False) -> dict[str, float]:
    """Best-of-REPEATS render time per page, in ms (the minimum: the machine is shared, and
    other load only ever adds time). `cold`: fleet aggregates recomputed on every render."""
    cache.clear()
    settings.PORTAL_AGGREGATE_CACHE_SECONDS = 0 if cold else 30
    results = {}
    for name, (path, params) in PAGES.items():
        for _ in range(3):
            assert client.get(path, params).status_code == 200  # warm
        samples = []
        for _ in range(REPEATS):
            started = time.perf_counter()
            response = client.get(path, params)
            samples.append(time.perf_counter() - started)
            assert response.status_code == 200, (path, response.status_code)
        results[name] = min(samples) * 1000
    return results


def main() -> None:
    call_command("migrate", verbosity=0)
    user, _ = staff_user_create(
        email="bench@example.com", role=Role.OPERATOR, actor=Actor.system("bench")
    )
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)

    app = build(orgs=SMALL)
    counters(SMALL)
    analyze()
    small = time_pages(client)
    small_cold = time_pages(client, cold=True)
    for name, ms in small.items():
        print(
            f"{SMALL:,} orgs / {SMALL * 3:,} data sources: {name}: {ms:.1f} ms "
            f"(aggregates recomputed: {small_cold[name]:.1f} ms)",
            flush=True,
        )
    started = time.monotonic()
    build(orgs=LARGE - SMALL, start=SMALL, app=app)
    counters(LARGE)
    analyze()
    print(f"  (filled to {LARGE:,} orgs in {time.monotonic() - started:.0f} s)", flush=True)
    large = time_pages(client)
    large_cold = time_pages(client, cold=True)
    for name, ms in large.items():
        print(
            f"{LARGE:,} orgs / {LARGE * 3:,} data sources: {name}: {ms:.1f} ms "
            f"(aggregates recomputed: {large_cold[name]:.1f} ms)",
            flush=True,
        )
    cold = {name: large_cold[name] / small_cold[name] for name in PAGES}
    worst_cold = max(cold, key=cold.get)
    print(f"  (with aggregates recomputed on every render: {cold[worst_cold]:.2f}, {worst_cold})")
    ratios = {name: large[name] / small[name] for name in PAGES}
    worst = max(ratios, key=ratios.get)
    print(f"page render time ratio 10k/100: {ratios[worst]:.2f} (worst: {worst}; target <= 1.5)")


if __name__ == "__main__":
    main()
