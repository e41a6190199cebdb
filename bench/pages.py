"""Page render times at 100,000 orgs / 1,000,000 data sources versus 100 orgs / 1,000 data
sources (target: ratio at most 1.5 for the worst page), and the same number of SQL queries for
each page at both sizes (else the benchmark fails: exit status 1).

Builds two scratch PostgreSQL databases, `byods_bench_scale_pages_small` (100 orgs, 10 data
sources each) and `byods_bench_scale_pages_large` (100,000 orgs, 10 each; names overridable by
BENCH_PAGES_SMALL_DB / BENCH_PAGES_LARGE_DB), with the rows of
`byods_portal.tests.bulk.build_sql` made by PostgreSQL (INSERT ... SELECT generate_series): a
mix of org statuses and data source health (most healthy; some due, at risk, failing, disabled,
paused), a token per org, the open alerts the orgs warrant, and a week of hourly rotation
counters; then VACUUM ANALYZE. Each page (dashboard, org list, a typical org's page, data source
list plain and filtered by health, alerts list) is rendered through Django's test client,
signed in as an operator, alternating between the two databases so that both sides of the ratio
see the same machine load (the machine is shared); each side's figure is the best of REPEATS
renders. Fleet aggregates are reused as deployed (30 s); a pass recomputing them on every render
is printed beside. The last line prints the worst ratio.
"""

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._scratch import PG_ADMIN  # noqa: E402

SMALL, LARGE = 100, 100_000  # orgs
PER_ORG = 10  # data sources per org: 1,000 and 1,000,000
REPEATS = 25
COLD_REPEATS = 5  # recomputing the fleet aggregates at a million rows takes a while
DBS = {
    SMALL: os.environ.get("BENCH_PAGES_SMALL_DB", "byods_bench_scale_pages_small"),
    LARGE: os.environ.get("BENCH_PAGES_LARGE_DB", "byods_bench_scale_pages_large"),
}
TYPICAL_ORG = "Org 000005"  # active, with its token and 10 data sources, at both sizes


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
        "DATABASE_URL": PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgres://")
        + f"/{DBS[SMALL]}",
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
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402

from accounts.roles import Role  # noqa: E402
from accounts.services import staff_user_create  # noqa: E402
from audit.context import Actor  # noqa: E402
from byods_portal.tests.bulk import build_sql  # noqa: E402
from tenants.models import CustomerOrg  # noqa: E402

# name -> (path, query string); the org page's path differs per database (its public id).
PAGES: dict[str, tuple[str, dict]] = {
    "dashboard": ("/", {}),
    "org list": ("/orgs/", {}),
    "org detail": ("", {}),
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
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO stats_rotationoutcomehour (hour, outcome, count) "
            "SELECT date_trunc('hour', now()) - make_interval(hours => h), 'rotated', %s "
            "FROM generate_series(0, 167) AS h "
            "UNION ALL "
            "SELECT date_trunc('hour', now()) - make_interval(hours => h), 'failed', 1 + mod(h, 7) "
            "FROM generate_series(0, 167, 5) AS h",
            [orgs * PER_ORG // 24],
        )


def populate(size: int) -> tuple[Client, str]:
    use(size)
    call_command("migrate", verbosity=0)
    user, _ = staff_user_create(
        email="bench@example.com", role=Role.OPERATOR, actor=Actor.system("bench")
    )
    started = time.monotonic()
    build_sql(orgs=size, per_org=PER_ORG)
    counters(size)
    built = time.monotonic() - started
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(
        f"  ({size:,} orgs / {size * PER_ORG:,} data sources built in {built:.0f} s, "
        f"vacuumed and analyzed in {time.monotonic() - started - built:.0f} s)",
        flush=True,
    )
    client = Client(HTTP_HOST="localhost")
    # signed in as after the password and the operator's second factor
    from accounts.tests.helpers import verified_login

    verified_login(client, user)
    org = CustomerOrg.objects.get(name=TYPICAL_ORG)
    assert org.status == CustomerOrg.Status.ACTIVE, org.status
    return client, reverse("tenants:org_detail", args=[org.public_id])


def get(client: Client, path: str, params: dict):
    response = client.get(path, params)
    assert response.status_code == 200, (path, response.status_code)
    return response


def render(client: Client, path: str, params: dict) -> float:
    get(client, path, params)  # after a switch: connect, warm the aggregates as deployed
    started = time.perf_counter()
    get(client, path, params)
    return (time.perf_counter() - started) * 1000


def query_counts(clients: dict[int, tuple[Client, str]]) -> dict[int, dict[str, int]]:
    """SQL queries per page (a warm render, aggregates cached as deployed), per size."""
    settings.PORTAL_AGGREGATE_CACHE_SECONDS = 30
    counts: dict[int, dict[str, int]] = {size: {} for size in clients}
    for size, (client, org_path) in clients.items():
        use(size)
        for name, (path, params) in PAGES.items():
            get(client, path or org_path, params)
            with CaptureQueriesContext(connection) as ctx:
                get(client, path or org_path, params)
            counts[size][name] = len(ctx.captured_queries)
    return counts


def time_pages(
    clients: dict[int, tuple[Client, str]], *, cold: bool
) -> dict[int, dict[str, float]]:
    settings.PORTAL_AGGREGATE_CACHE_SECONDS = 0 if cold else 30
    best: dict[int, dict[str, float]] = {size: {} for size in clients}
    for name, (path, params) in PAGES.items():
        for _ in range(COLD_REPEATS if cold else REPEATS):
            for size, (client, org_path) in clients.items():  # alternate: the same load
                use(size)
                ms = render(client, path or org_path, params)
                best[size][name] = min(best[size].get(name, ms), ms)
    return best


def main() -> None:
    clients = {size: populate(size) for size in (SMALL, LARGE)}
    counts = query_counts(clients)
    for name in PAGES:
        print(f"{name}: {counts[SMALL][name]} / {counts[LARGE][name]} queries", flush=True)
    differ = [name for name in PAGES if counts[SMALL][name] != counts[LARGE][name]]
    if differ:
        sys.exit(f"FAILED: query counts differ between the sizes for {', '.join(differ)}")
    warm = time_pages(clients, cold=False)
    cold = time_pages(clients, cold=True)
    for size in (SMALL, LARGE):
        for name in PAGES:
            print(
                f"{size:,} orgs / {size * PER_ORG:,} data sources: {name}: "
                f"{warm[size][name]:.1f} ms, {counts[size][name]} queries "
                f"(aggregates recomputed: {cold[size][name]:.1f} ms)",
                flush=True,
            )
    cold_ratio = {name: cold[LARGE][name] / cold[SMALL][name] for name in PAGES}
    worst_cold = max(cold_ratio, key=cold_ratio.__getitem__)
    print(
        f"  (with aggregates recomputed on every render: {cold_ratio[worst_cold]:.2f}, "
        f"{worst_cold})"
    )
    ratios = {name: warm[LARGE][name] / warm[SMALL][name] for name in PAGES}
    for name in PAGES:
        print(f"  {name}: ratio {ratios[name]:.2f}")
    worst = max(ratios, key=ratios.__getitem__)
    print(f"page render time ratio 1M/1k: {ratios[worst]:.2f} (worst: {worst}; target <= 1.5)")


if __name__ == "__main__":
    main()
