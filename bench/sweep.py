"""Sweep cost with 1,000,000 data sources versus 1,000, each with 100 due (target: ratio <= 1.5);
100,000 is measured and printed too.

The sweep claims due data sources through a partial index on next_rotation_at for active rows,
so its cost should follow the number due, not the table size. Builds one scratch PostgreSQL
database per size (`<BENCH_DATABASE>_1k`, `_100k`, `_1m`), its rows made by PostgreSQL itself
(`INSERT ... SELECT ... FROM generate_series`, then VACUUM ANALYZE): a million rows through the
ORM would take longer than the whole measurement. Then times `datasource_claim_due` (the
sweep's database work) REPEATS times per size, the sizes taking turns (so that all of them see
the same load: the machine is shared); each figure is the median.
"""

import datetime as dt
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._scratch import production_like_env, scratch_database  # noqa: E402

DB = os.environ.get("BENCH_DATABASE", "byods_bench_scale_sweep")
SIZES = {"1k": 1_000, "100k": 100_000, "1m": 1_000_000}
DUE, REPEATS = 100, 25

urls = {label: scratch_database(f"{DB}_{label}") for label in SIZES}
os.environ.update(production_like_env(urls["1k"]))

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from byods_portal.tests.bulk import insert_select  # noqa: E402
from datasources.models import DataSource  # noqa: E402
from datasources.services import datasource_claim_due  # noqa: E402
from tenants.models import CustomerOrg, ServiceApp  # noqa: E402


def use(label: str) -> None:
    """Point the default connection at the database of size `label`."""
    connection.close()
    connection.settings_dict["NAME"] = f"{DB}_{label}"


def fill(org, total: int) -> None:
    """`total` rows, all active, rotations spread over the next 24 h, made by PostgreSQL."""
    insert_select(
        DataSource,
        columns={
            "org_id": str(int(org.pk)),
            "webex_id": "replace(gen_random_uuid()::text, '-', '')",
            "schema_id": "'s'",
            "url": "'https://rx' || i || '.b.example/x'",
            "audience": "'a'",
            "subject": "'s'",
            "token_lifetime_minutes": "1440",
            "nonce": "replace(gen_random_uuid()::text, '-', '')",
            "token_expires_at": "now() + interval '24 hours'",
            "next_rotation_at": "now() + make_interval(mins => 10 + mod(i, 1400))",
        },
        source="generate_series(0, %s) AS i ORDER BY i",
        params=[total - 1],
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE datasources_datasource")


def build(label: str, total: int) -> None:
    use(label)
    started = time.monotonic()
    call_command("migrate", verbosity=0)
    app = ServiceApp.objects.create(name="B", client_id="C-bench", client_secret="x")  # noqa: S106 - a dummy
    org = CustomerOrg.objects.create(
        service_app=app,
        webex_org_id="00000000-0000-4000-8000-000000000001",
        name="Bench",
        status="active",
    )
    fill(org, total)
    print(f"  ({total:,} data sources built in {time.monotonic() - started:.0f} s)", flush=True)


def sweep_once(total: int) -> float:
    """Make exactly DUE rows (at random) due and unclaimed, then time one claim."""
    now = timezone.now()
    past = now - dt.timedelta(seconds=5)
    # The rows due (and claimed) last time go back to the future, through the partial index.
    DataSource.objects.filter(status="active", next_rotation_at__lte=now).update(
        next_rotation_at=now + dt.timedelta(hours=1), claimed_until=None
    )
    due_ids = random.sample(range(1, total + 1), DUE)  # one INSERT: ids 1..total
    DataSource.objects.filter(pk__in=due_ids).update(next_rotation_at=past)
    started = time.perf_counter()
    claimed = datasource_claim_due(limit=5000)
    elapsed = time.perf_counter() - started
    assert len(claimed) == DUE, len(claimed)
    return elapsed * 1000


def main() -> None:
    for label, total in SIZES.items():
        build(label, total)
    samples: dict[str, list[float]] = {label: [] for label in SIZES}
    order = list(SIZES)
    for _ in range(REPEATS):
        for label in order:
            use(label)
            samples[label].append(sweep_once(SIZES[label]))
        order = order[1:] + order[:1]  # each size goes first in turn
    median = {label: statistics.median(values) for label, values in samples.items()}
    for label, total in SIZES.items():
        print(
            f"sweep with {total:,} data sources, {DUE} due: {median[label]:.2f} ms "
            f"(median of {REPEATS}; min {min(samples[label]):.2f}, max {max(samples[label]):.2f})"
        )
    print(f"sweep time ratio 100k/1k: {median['100k'] / median['1k']:.2f}")
    print(f"sweep time ratio 1M/1k: {median['1m'] / median['1k']:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
