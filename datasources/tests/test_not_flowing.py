"""A data source disabled or changed at Webex behind the portal's back is not healthy: once
reconciliation finds it, its health reads "Not flowing: disabled at Webex" (or what differs)
on the list and detail pages and in the API, until the finding is adopted or repaired.

Set up through Webex itself (the emulator over HTTP) and the portal's reconciliation."""

import uuid

import pytest
from django.urls import reverse

from datasources import selectors
from datasources.models import DataSource, DriftFinding
from datasources.services import datasources_reconcile_org, drift_resolve
from tenants.models import OrgToken
from tenants.tests.conftest import SYSTEM
from webex.client import WebexClient
from webex.types import DataSourceRequest

pytestmark = pytest.mark.django_db


def change_at_webex(webex_world, org, ds, **changes):
    """PUT at Webex directly, as someone in Control Hub would: the portal is not told."""
    fields = {
        "schema_id": ds.schema_id,
        "url": ds.url,
        "audience": ds.audience,
        "subject": ds.subject,
        "nonce": uuid.uuid4().hex,
        "token_lifetime_minutes": ds.token_lifetime_minutes,
        "status": "active",
    } | changes
    WebexClient(api_base=webex_world.api_base).update_datasource(
        access_token=OrgToken.objects.get(org=org).access_token,
        datasource_id=ds.webex_id,
        request=DataSourceRequest(**fields),
    )


def fresh(ds) -> DataSource:
    return DataSource.objects.select_related("org").get(pk=ds.pk)


def test_disabled_at_webex_is_not_flowing_everywhere_until_adopted(
    org, register, webex_world, client_for, api_client_for
):
    ds = register()
    other = register(url="https://rx.byods.example.com/other")
    assert fresh(ds).health() == "healthy"
    change_at_webex(webex_world, org, ds, status="disabled", error_message="Paused by the customer")
    # Before reconciliation the portal cannot know.
    assert fresh(ds).health() == "healthy"
    datasources_reconcile_org(org=org, actor=SYSTEM)

    assert fresh(ds).health() == "not_flowing"
    assert selectors.datasource_health(fresh(ds)) == (
        "not_flowing",
        "Not flowing: disabled at Webex",
    )
    assert fresh(other).health() == "healthy"
    # The SQL conditions agree with the model (filters and counts).
    assert list(selectors.datasource_list(health="not_flowing")) == [fresh(ds)]
    assert ds.pk not in {d.pk for d in selectors.datasource_list(health="healthy")}
    counts = selectors.datasource_health_counts()
    assert counts["not_flowing"] == 1 and counts["healthy"] == 1

    for persona in ("operator", "onboarding", "auditor"):
        client = client_for(persona)
        listing = client.get(reverse("datasources:list")).content.decode()
        assert "Not flowing: disabled at Webex" in listing
        detail = client.get(reverse("datasources:detail", args=[ds.public_id])).content.decode()
        assert "Not flowing: disabled at Webex" in detail
        assert reverse("datasources:drift_list", args=[org.public_id]) in detail
    row = api_client_for("auditor").get(f"/api/v1/datasources/{ds.public_id}/").json()
    assert row["health"] == "not_flowing"
    assert row["health_label"] == "Not flowing: disabled at Webex"

    finding = DriftFinding.objects.get(datasource=ds, resolved_at__isnull=True)
    drift_resolve(finding=finding, resolution="adopt", actor=SYSTEM)
    # Adopted: the portal now says disabled itself (its own status), no longer "not flowing".
    assert fresh(ds).health() == "disabled"


def test_a_url_changed_at_webex_is_named_until_repaired(org, register, webex_world, client_for):
    ds = register()
    change_at_webex(webex_world, org, ds, url="https://elsewhere.byods.example.com/x")
    datasources_reconcile_org(org=org, actor=SYSTEM)
    assert selectors.datasource_health(fresh(ds))[1] == "Not flowing: URL changed at Webex"
    html = client_for("operator").get(reverse("datasources:list")).content.decode()
    assert "Not flowing: URL changed at Webex" in html

    finding = DriftFinding.objects.get(datasource=ds, resolved_at__isnull=True)
    drift_resolve(finding=finding, resolution="repair", actor=SYSTEM)
    assert fresh(ds).health() == "healthy"


def test_a_difference_that_does_not_stop_the_data_leaves_it_healthy(org, register, webex_world):
    ds = register()
    change_at_webex(webex_world, org, ds, token_lifetime_minutes=45)
    datasources_reconcile_org(org=org, actor=SYSTEM)
    assert DriftFinding.objects.filter(datasource=ds, resolved_at__isnull=True).exists()
    assert fresh(ds).health() == "healthy"
    assert fresh(ds).not_flowing_reason == ""


def test_the_list_reads_the_reason_without_a_query_per_row(
    org, register, webex_world, django_assert_max_num_queries
):
    made = [register(url=f"https://rx.byods.example.com/{i}") for i in range(3)]
    for ds in made:
        change_at_webex(webex_world, org, ds, status="disabled", error_message="Off")
    datasources_reconcile_org(org=org, actor=SYSTEM)
    with django_assert_max_num_queries(1):
        rows = list(selectors.datasource_list())
        reasons = [row.not_flowing_reason for row in rows]
        healths = [row.health() for row in rows]
    assert reasons == ["disabled at Webex"] * 3 and healths == ["not_flowing"] * 3
