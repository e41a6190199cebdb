"""Sweep cost with 100,000 data sources versus 1,000, each with 100 due (target: ratio <= 1.5).

The sweep claims due data sources through a partial index on next_rotation_at for active rows,
so its cost should follow the number due, not the table size. Builds a scratch PostgreSQL
database; times `datasource_claim_due` (the sweep's database work) as a median of repeats.
"""

import datetime as dt
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._scratch import production_like_env, scratch_database  # noqa: E402

DB = os.environ.get("BENCH_DATABASE", "byods_bench_sweep")
DUE, REPEATS = 100, 25


os.environ.update(production_like_env(scratch_database(DB)))

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from datasources.models import DataSource  # noqa: E402
from datasources.services import datasource_claim_due  # noqa: E402
from tenants.models import CustomerOrg, ServiceApp  # noqa: E402


def fill(org, total: int) -> None:
    """Grow the table to `total` rows: all active, rotations spread over the next 24 h."""
    now = timezone.now()
    have = DataSource.objects.count()
    rows = [
        DataSource(
            org=org,
            webex_id=str(uuid.uuid4()),
            schema_id="s",
            url=f"https://rx{i}.b.example/x",
            audience="a",
            subject="s",
            token_lifetime_minutes=1440,
            nonce=uuid.uuid4().hex,
            token_expires_at=now + dt.timedelta(hours=24),
            next_rotation_at=now + dt.timedelta(minutes=10 + (i % 1400)),
        )
        for i in range(have, total)
    ]
    DataSource.objects.bulk_create(rows, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE datasources_datasource")


def time_sweep() -> float:
    samples = []
    for _ in range(REPEATS):
        # Make exactly DUE rows due and unclaimed, then sweep.
        DataSource.objects.filter(claimed_until__isnull=False).update(claimed_until=None)
        due_ids = list(DataSource.objects.order_by("?").values_list("pk", flat=True)[:DUE])
        past = timezone.now() - dt.timedelta(seconds=5)
        DataSource.objects.filter(next_rotation_at__lte=past).update(
            next_rotation_at=timezone.now() + dt.timedelta(hours=1)
        )
        DataSource.objects.filter(pk__in=due_ids).update(next_rotation_at=past)
        started = time.perf_counter()
        claimed = datasource_claim_due(limit=5000)
        samples.append(time.perf_counter() - started)
        assert len(claimed) == DUE, len(claimed)
    return statistics.median(samples) * 1000


def main() -> None:
    call_command("migrate", verbosity=0)
    app = ServiceApp.objects.create(name="B", client_id="C-bench", client_secret="x")  # noqa: S106 - a dummy
    org = CustomerOrg.objects.create(
        service_app=app, webex_org_id=uuid.uuid4(), name="Bench", status="active"
    )
    fill(org, 1_000)
    small = time_sweep()
    print(f"sweep with 1,000 data sources, {DUE} due: {small:.2f} ms", flush=True)
    started = time.monotonic()
    fill(org, 100_000)
    print(f"  (filled to 100,000 in {time.monotonic() - started:.0f} s)", flush=True)
    large = time_sweep()
    print(f"sweep with 100,000 data sources, {DUE} due: {large:.2f} ms")
    print(f"sweep time ratio 100k/1k: {large / small:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
