"""Bulk operations at scale: starting one over 10,000 data sources, and the cost of its page.

Creates a scratch PostgreSQL database with 10,000 data sources (no Webex: the run itself is
one single-target service call per item, measured by bench/rotation.py). Times the preview and
the start (items written with bulk_create), then the operation page (median of repeats) with
10,000 items, half of them failed, versus 100 items. Target: page time ratio <= 1.5.
"""

import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._scratch import scratch_database  # noqa: E402

DB = "byods_bench_bulk"
TARGETS, SMALL, REPEATS = 10_000, 100, 15


os.environ.update(
    {
        # the test settings serve static files without a collectstatic manifest
        "DJANGO_SETTINGS_MODULE": "byods_portal.settings_test",
        "DATABASE_URL": scratch_database(DB),
        "LOG_LEVEL": "WARNING",
    }
)

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import RequestFactory  # noqa: E402

from audit.context import Actor, bound  # noqa: E402
from datasources.models import DataSource  # noqa: E402
from operations import services, views  # noqa: E402
from operations.models import BulkItem  # noqa: E402
from operations.selectors import Selection  # noqa: E402
from tenants.models import CustomerOrg, ServiceApp  # noqa: E402


def page_ms(op, user) -> float:
    samples = []
    for _ in range(REPEATS):
        request = RequestFactory().get(f"/bulk/{op.public_id}/")
        request.user = user
        started = time.perf_counter()
        response = views.bulk_detail(request, public_id=op.public_id)
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200
    return statistics.median(samples) * 1000


def start(selection, user):
    with bound(actor=Actor.user(user)):
        return services.bulk_operation_start(kind="rotate", selection=selection, user=user)


def main() -> None:
    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_superuser("bench@example.com", "", "x")  # noqa: S106
    app = ServiceApp.objects.create(name="B", client_id="C-bench", client_secret="x")  # noqa: S106
    org = CustomerOrg.objects.create(
        service_app=app, webex_org_id=uuid.uuid4(), name="Bench", status="active"
    )
    DataSource.objects.bulk_create(
        [
            DataSource(
                org=org,
                webex_id=str(uuid.uuid4()),
                schema_id="s",
                url=f"https://rx{i}.b.example/x",
                audience="a",
                subject="s",
                token_lifetime_minutes=1440,
                nonce=uuid.uuid4().hex,
            )
            for i in range(TARGETS)
        ],
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE datasources_datasource")
    everything = Selection("datasource", all_matching=True)
    started = time.perf_counter()
    preview = services.bulk_preview(kind="rotate", selection=everything)
    preview_s = time.perf_counter() - started
    assert preview.will_change == TARGETS
    print(f"preview of {TARGETS:,} data sources: {preview_s:.2f} s", flush=True)
    started = time.perf_counter()
    large = start(everything, user)
    start_s = time.perf_counter() - started
    print(f"start over {TARGETS:,} data sources (items written): {start_s:.2f} s", flush=True)
    first = DataSource.objects.order_by("pk").values_list("public_id", flat=True)[:SMALL]
    small = start(Selection("datasource", tuple(first)), user)
    for op in (large, small):  # half of each failed, the rest succeeded: a full report
        items = op.items.order_by("pk").values_list("pk", flat=True)
        half = list(items[: op.total // 2])
        BulkItem.objects.filter(pk__in=half).update(state="failed", reason="Webex call failed")
        BulkItem.objects.filter(operation=op, state="pending").update(state="succeeded")
        op.state, op.failed, op.succeeded = "done", len(half), op.total - len(half)
        op.save()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE operations_bulkitem")
    small_ms, large_ms = page_ms(small, user), page_ms(large, user)
    print(f"operation page with {SMALL} items: {small_ms:.1f} ms", flush=True)
    print(f"operation page with {TARGETS:,} items: {large_ms:.1f} ms", flush=True)
    print(f"start over {TARGETS:,} targets: {start_s:.1f} s", flush=True)
    # The figure comes first after the colon: bench/run_all.py reads the first number there.
    print(f"bulk operation page ratio 10k/100 items: {large_ms / small_ms:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
