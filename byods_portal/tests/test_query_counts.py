"""The landing page and the lists cost the same number of SQL queries with 10 orgs as with
10,000 orgs and 30,000 data sources: no N+1, no per-row lookups. (Their render *times* are
measured in bench/pages.py.)"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from byods_portal.tests.bulk import build

PAGES = [
    ("dashboard", {}),
    ("tenants:org_list", {}),
    ("tenants:org_list", {"status": "active", "sort": "-name"}),
    ("datasources:list", {}),
    ("datasources:list", {"health": "healthy", "q": "Org 00000"}),
    ("datasources:list", {"health": "failing", "sort": "token_expires_at"}),
    ("alerts:list", {}),
    ("alerts:list", {"state": "all", "kind": "org_reauthorization"}),
    ("tenants:org_list", {"offboarded": "1"}),
    ("search", {"q": "Org 00000"}),
    ("search", {"q": "rx.byods.example.com/1/"}),
]


def count(client, name, params) -> int:
    client.get(reverse(name), params)  # warm: session, permissions
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse(name), params)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.django_db
def test_pages_cost_the_same_queries_at_10_and_at_10000_orgs(operator_client):
    app = build(orgs=10)
    small = {(name, str(params)): count(operator_client, name, params) for name, params in PAGES}
    build(orgs=9990, start=10, app=app)  # 10,000 orgs, 30,000 data sources
    large = {(name, str(params)): count(operator_client, name, params) for name, params in PAGES}
    assert large == small
    assert max(small.values()) < 30  # and the count itself is small


@pytest.mark.django_db
def test_the_at_risk_condition_has_one_term_per_distinct_lifetime(db):
    """Regression: the model's default ordering once leaked into the DISTINCT over lifetimes,
    giving one OR term per data source (seconds per page at a few thousand rows)."""
    from datasources.selectors import health_conditions

    build(orgs=20)  # 60 data sources, all with a 1,440-minute lifetime
    assert str(health_conditions()["at_risk"]).count("token_lifetime_minutes") == 1


@pytest.mark.django_db
def test_the_capped_paginator_counts_up_to_its_cap(db):
    from core.pagination import CappedPaginator
    from datasources.models import DataSource

    build(orgs=10)  # 30 data sources
    qs = DataSource.objects.order_by("pk")
    capped = CappedPaginator(qs, 5, cap=12)
    assert (capped.count, capped.capped, capped.num_pages) == (12, True, 3)
    assert len(capped.get_page(3).object_list) == 2  # rows 11-12: the list stops at the cap
    exact = CappedPaginator(qs, 5, cap=100)
    assert (exact.count, exact.capped, exact.num_pages) == (30, False, 6)


@pytest.mark.django_db
def test_the_org_menu_gives_way_to_search_past_200_orgs(auditor_client):
    app = build(orgs=10, per_org=1)
    assert 'id="filter-org"' in auditor_client.get(reverse("datasources:list")).content.decode()
    build(orgs=191, per_org=1, start=10, app=app)
    html = auditor_client.get(reverse("datasources:list")).content.decode()
    assert 'id="filter-org"' not in html and 'name="q"' in html
