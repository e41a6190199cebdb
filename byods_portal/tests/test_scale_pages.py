"""What the pages do so that they cost the same at a million data sources as at a thousand
(bench/pages.py measures it): counts that stop at a cap and say so, fleet-wide org counts shared
for a few seconds like the health counts, the soonest deadlines read in index order."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from byods_portal.tests.bulk import build

pytestmark = pytest.mark.django_db


@pytest.mark.skipif(connection.vendor != "postgresql", reason="reads PostgreSQL's plan")
def test_the_soonest_deadlines_are_read_in_index_order(db):
    """`ds_expiry_idx` is (token_expires_at, id), the order the dashboard asks for: the top 8
    come straight off the index. On token_expires_at alone PostgreSQL sorted every row tied
    on the first expiry by id (hundreds at a million data sources)."""
    from django.utils import timezone

    from operations.dashboard import soonest_deadlines

    build(orgs=10)
    with CaptureQueriesContext(connection) as ctx:
        assert len(soonest_deadlines(now=timezone.now())) == 8
    (sql,) = [q["sql"] for q in ctx.captured_queries]
    with connection.cursor() as cursor:
        # Tiny tables: forbid what the planner would rather do, so only the index can order.
        for kind in ("seqscan", "bitmapscan", "sort", "incremental_sort"):
            cursor.execute(f"SET LOCAL enable_{kind} = off")
        cursor.execute(f"EXPLAIN {sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "ds_expiry_idx" in plan and "Sort" not in plan, plan
