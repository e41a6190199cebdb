"""What the pages do so that they cost the same at a million data sources as at a thousand
(bench/pages.py measures it): counts that stop at a cap and say so, fleet-wide org counts shared
for a few seconds like the health counts, the soonest deadlines read in index order."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from alerts.models import Alert, Kind
from alerts.selectors import alert_open_count
from byods_portal.tests.bulk import build

pytestmark = pytest.mark.django_db


def test_the_open_alert_count_stops_at_its_cap(db):
    build(orgs=10, per_org=1)  # 5 drift alerts and 1 reauthorization: 6 open
    assert alert_open_count(cap=6) == (6, False)
    assert alert_open_count(cap=5) == (5, True)
    Alert.objects.filter(kind=Kind.DRIFT_FOUND).update(resolved_at="2026-01-01T00:00:00Z")
    assert alert_open_count(cap=5) == (1, False)


def test_the_dashboard_says_when_there_are_more_open_alerts_than_it_counted(
    operator_client, monkeypatch
):
    from operations import views_dashboard

    build(orgs=10, per_org=1)
    html = operator_client.get(reverse("dashboard")).content.decode()
    assert "Open alerts <span" in html and "(6)</span>" in html
    monkeypatch.setattr(views_dashboard, "alert_open_count", lambda: (1000, True))
    html = operator_client.get(reverse("dashboard")).content.decode()
    assert "(1000+)</span>" in html


def test_the_org_list_counts_up_to_its_cap_and_says_so(operator_client):
    build(orgs=1001, per_org=0)
    html = operator_client.get(reverse("tenants:org_list")).content.decode()
    assert "all 1000+ matching the current filter" in html
    assert "Page 1 of 20 (1000+: search or pick a status to narrow)" in html
    # A status narrows below the cap: exact again (1001 orgs, 50 of them pending).
    html = operator_client.get(reverse("tenants:org_list"), {"status": "pending"}).content
    assert "all 50 matching the current filter" in html.decode()


def test_the_data_source_list_says_all_is_more_than_it_counted(operator_client):
    build(orgs=334, per_org=3)  # 1,002 data sources
    html = operator_client.get(reverse("datasources:list")).content.decode()
    assert "all 1000+ matching the current filter" in html


def test_org_counts_are_the_shared_short_lived_figure(operator_client, settings):
    """Counting orgs by status reads every org: like the health counts, the dashboard and the
    org list share one figure for PORTAL_AGGREGATE_CACHE_SECONDS, and both say how old it
    may be. (With 0, as in the other tests, both are live.)"""
    settings.PORTAL_AGGREGATE_CACHE_SECONDS = 30
    app = build(orgs=10, per_org=1)  # 8 active
    html = operator_client.get(reverse("dashboard")).content.decode()
    assert 'id="orgs-heading">Customer orgs <span class="text-body-secondary fs-6">(10)' in html
    build(orgs=5, start=10, app=app, per_org=0)
    html = operator_client.get(reverse("tenants:org_list")).content.decode()
    assert 'Active <span class="badge text-bg-light">8</span>' in html  # the shared figure
    assert "Counts beside the statuses are at most 30 s old." in html
    assert "Org 000014" in html  # the list itself is live
    html = operator_client.get(reverse("dashboard")).content.decode()
    assert html.count("Counts are at most 30 s old.") == 2  # orgs and data sources


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
    # Two walks: the lapsed ones (at the top, in red), then those that expire next.
    lapsed, upcoming = [q["sql"] for q in ctx.captured_queries]
    for sql in (lapsed, upcoming):
        with connection.cursor() as cursor:
            # Tiny tables: forbid what the planner would rather do, so only the index can order.
            for kind in ("seqscan", "bitmapscan", "sort", "incremental_sort"):
                cursor.execute(f"SET LOCAL enable_{kind} = off")
            cursor.execute(f"EXPLAIN {sql}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "ds_expiry_idx" in plan and "Sort" not in plan, plan


@pytest.mark.skipif(connection.vendor != "postgresql", reason="reads PostgreSQL's plan")
def test_the_search_finds_an_audit_event_by_tracking_id_through_an_index(db):
    """Staff paste a trackingId from a message into the header search: the audit trail grows
    without bound, so the lookup must be an index probe (`audit_tracking_idx`), not a scan."""
    from operations.search import search

    build(orgs=3)
    with CaptureQueriesContext(connection) as ctx:
        search("BYODS_0123456789abcdef_deadbeef", with_audit=True)
    [sql] = [q["sql"] for q in ctx.captured_queries if '"audit_auditevent"' in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny table: only an index may do
        cursor.execute(f"EXPLAIN {sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "audit_tracking_idx" in plan, plan
