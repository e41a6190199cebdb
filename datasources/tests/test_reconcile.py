"""Reconciliation against the emulator: each kind of drift, found, adopted or repaired."""

import pytest

from audit.models import AuditEvent
from datasources import services
from datasources.models import DataSource, DriftFinding
from tenants.models import OrgToken
from webex.client import WebexClient
from webex.types import DataSourceRequest

from .conftest import SCHEMA, SYSTEM

pytestmark = pytest.mark.django_db


@pytest.fixture
def webex(webex_world, org):
    client = WebexClient(api_base=webex_world.api_base)
    token = OrgToken.objects.get(org=org).access_token
    return client, token


def stray(webex):
    client, token = webex
    return client.register_datasource(
        access_token=token,
        request=DataSourceRequest(
            schema_id=SCHEMA,
            url="https://stray.byods.example.com/x",
            audience="a",
            subject="s",
            nonce="stray-nonce-1",
            token_lifetime_minutes=30,
        ),
    )


def kinds(org):
    return sorted(
        DriftFinding.objects.filter(org=org, resolved_at=None).values_list("kind", flat=True)
    )


def test_agreement_finds_nothing(org, register):
    register()
    report = services.datasources_reconcile_org(org=org, actor=SYSTEM)
    assert report.available and report.summary == "Portal and Webex agree."


def test_each_kind_of_drift_is_found_once(org, register, webex):
    gone, changed = register(), register(url="https://b.byods.example.com/x")
    client, token = webex
    stray(webex)
    client.delete_datasource(access_token=token, datasource_id=gone.webex_id)
    client.update_datasource(
        access_token=token,
        datasource_id=changed.webex_id,
        request=DataSourceRequest(
            schema_id=SCHEMA,
            url=changed.url,
            audience="changed-elsewhere",
            subject=changed.subject,
            nonce="outside-nonce",
            token_lifetime_minutes=60,
            status="active",
        ),
    )
    report = services.datasources_reconcile_org(org=org, actor=SYSTEM)
    assert report.opened == 3
    assert kinds(org) == ["differs", "gone_at_webex", "unknown_here"]
    differs = DriftFinding.objects.get(kind="differs")
    assert differs.details["audience"] == {"portal": "byods-rx", "webex": "changed-elsewhere"}
    again = services.datasources_reconcile_org(org=org, actor=SYSTEM)
    assert again.opened == 0  # still open, not duplicated
    assert AuditEvent.objects.filter(action="datasource.drift_found").count() == 3


def test_adopting_an_unknown_data_source_brings_it_under_rotation(org, webex, emulator):
    remote = stray(webex)
    services.datasources_reconcile_org(org=org, actor=SYSTEM)
    finding = DriftFinding.objects.get(kind="unknown_here")
    services.drift_resolve(finding=finding, resolution="adopt", actor=SYSTEM)
    ds = DataSource.objects.get(webex_id=remote.id)
    assert ds.nonce != "stray-nonce-1" and ds.next_rotation_at  # rotated with our own nonce
    assert services.datasources_reconcile_org(org=org, actor=SYSTEM).summary == (
        "Portal and Webex agree."
    )


def test_repairing_an_unknown_data_source_deletes_it_at_webex_with_a_reason(org, webex, emulator):
    stray(webex)
    services.datasources_reconcile_org(org=org, actor=SYSTEM)
    finding = DriftFinding.objects.get(kind="unknown_here")
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        services.drift_resolve(finding=finding, resolution="repair", actor=SYSTEM)
    services.drift_resolve(finding=finding, resolution="repair", reason="not ours", actor=SYSTEM)
    assert emulator.state()["dataSources"] == []
    assert AuditEvent.objects.get(action="datasource.repaired").reason == "not ours"


def test_repairing_a_gone_data_source_registers_it_again(org, register, webex, emulator):
    ds = register()
    client, token = webex
    client.delete_datasource(access_token=token, datasource_id=ds.webex_id)
    services.datasources_reconcile_org(org=org, actor=SYSTEM)
    finding = DriftFinding.objects.get(kind="gone_at_webex")
    services.drift_resolve(finding=finding, resolution="repair", actor=SYSTEM)
    fresh = DataSource.objects.get(pk=ds.pk)
    assert fresh.webex_id != ds.webex_id
    assert [d["id"] for d in emulator.state()["dataSources"]] == [fresh.webex_id]


def test_repairing_a_difference_pushes_the_portals_values(org, register, webex, emulator):
    ds = register()
    client, token = webex
    client.update_datasource(
        access_token=token,
        datasource_id=ds.webex_id,
        request=DataSourceRequest(
            schema_id=SCHEMA,
            url=ds.url,
            audience="tampered",
            subject=ds.subject,
            nonce="n-x",
            token_lifetime_minutes=60,
            status="active",
        ),
    )
    services.datasources_reconcile_org(org=org, actor=SYSTEM)
    finding = DriftFinding.objects.get(kind="differs")
    services.drift_resolve(finding=finding, resolution="repair", actor=SYSTEM)
    assert emulator.state()["dataSources"][0]["audience"] == "byods-rx"


def test_webex_silent_changes_nothing(org, register, emulator):
    register()
    emulator.set_faults(
        [{"method": "GET", "pathRegex": "/v1/dataSources", "kind": "status", "status": 503}]
    )
    report = services.datasources_reconcile_org(org=org, actor=SYSTEM)
    assert not report.available and not DriftFinding.objects.exists()
