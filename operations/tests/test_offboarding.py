"""Offboarding, the top floor's workflow: every data source of the org goes through the data
source services (one writer), a crash or a Webex refusal leaves a state the next attempt
finishes, and an offboarding that stays undone is seen (progress, alert, automatic retry)."""

import datetime as dt
import uuid

import pytest
import time_machine
from django.urls import reverse

from alerts.models import Alert
from alerts.services import alerts_evaluate
from audit.models import AuditEvent
from datasources.models import DataSource, NonceRecord
from operations import offboarding
from operations.tasks import offboarding_sweep
from tenants import selectors as tenant_selectors
from tenants import services as tenant_services
from tenants.models import CustomerOrg, OrgToken
from webex.client import WebexClient
from webex.types import DataSourceRequest

from .conftest import SCHEMA, SYSTEM

Status = CustomerOrg.Status
pytestmark = pytest.mark.django_db


def register_behind_our_back(webex_world, org, url):
    """A data source another tool registered for the org: it exists only at Webex."""
    return WebexClient(api_base=webex_world.api_base).register_datasource(
        access_token=OrgToken.objects.get(org=org).access_token,
        request=DataSourceRequest(
            schema_id=SCHEMA,
            url=url,
            audience="rx",
            subject="s",
            nonce=uuid.uuid4().hex,
            token_lifetime_minutes=60,
        ),
    )


def at_webex(emulator, org):
    return {
        d["id"]: d for d in emulator.state()["dataSources"] if d["orgId"] == str(org.webex_org_id)
    }


def start(org, mode, reason="Contract ended"):
    return tenant_services.org_offboard_start(
        org=org, confirm_name=org.name, mode=mode, reason=reason, actor=SYSTEM
    )


def live_rows(org):
    return DataSource.objects.filter(org=org, status="active", deleted_at__isnull=True)


def events_by_target(org, action):
    rows = AuditEvent.objects.filter(org_id=org.public_id, action=action, outcome="ok")
    return sorted(str(t) for t in rows.values_list("target_id", flat=True))


def test_it_disables_every_data_source_through_the_data_source_services(
    org, sources, webex_world, emulator
):
    stranger = register_behind_our_back(webex_world, org, "https://other.byods.example.com/x")
    start(org, "disable")
    assert offboarding.org_offboard_run(org=org, actor=SYSTEM) == "offboarded"

    remote = at_webex(emulator, org)
    assert {d["status"] for d in remote.values()} == {"disabled"}
    assert {d["errorMessage"] for d in remote.values()} == {"Contract ended"}
    assert not live_rows(org).exists()
    rows = DataSource.objects.filter(org=org)
    assert rows.count() == 5 and {r.status for r in rows} == {"disabled"}
    assert all(r.pending_nonce == "" and r.next_rotation_at is None for r in rows)
    # One audit event per data source, under its public id; the stranger got a row first.
    assert events_by_target(org, "datasource.disabled") == sorted(str(r.public_id) for r in rows)
    adopted = rows.get(webex_id=stranger.id)
    assert events_by_target(org, "datasource.adopted") == [str(adopted.public_id)]
    # Every nonce sent is recorded, the one each row holds included.
    for row in rows:
        assert NonceRecord.objects.filter(datasource=row, nonce=row.nonce).exists()
        assert remote[row.webex_id]["nonce"] == row.nonce
    org.refresh_from_db()
    token = OrgToken.objects.get(org=org)
    assert org.status == Status.OFFBOARDED and not token.access_token and token.destroyed_at


def test_it_deletes_every_data_source_and_resumes_after_a_crash(
    org, sources, webex_world, emulator, monkeypatch
):
    register_behind_our_back(webex_world, org, "https://other.byods.example.com/x")
    start(org, "delete", "Customer left")
    real_save, calls = tenant_services.org_offboard_progress_save, []

    def crash_after_two(o, **progress):
        real_save(o, **progress)
        calls.append(progress)
        if len(calls) == 3:  # the attempt, then two data sources done: the worker dies here
            raise SystemExit("worker killed")

    monkeypatch.setattr(tenant_services, "org_offboard_progress_save", crash_after_two)
    with pytest.raises(SystemExit):
        offboarding.org_offboard_run(org=org, actor=SYSTEM)
    org.refresh_from_db()
    assert org.status == Status.OFFBOARDING and OrgToken.objects.get(org=org).has_tokens
    assert len(at_webex(emulator, org)) == 3
    monkeypatch.setattr(tenant_services, "org_offboard_progress_save", real_save)

    assert offboarding.org_offboard_run(org=org, actor=SYSTEM) == "offboarded"
    assert at_webex(emulator, org) == {}
    deletes = [r for r in emulator.requests_log(method="DELETE") if r["status"] == 204]
    assert len(deletes) == 5  # each data source deleted exactly once
    rows = DataSource.objects.filter(org=org)
    assert rows.count() == 5 and not rows.filter(deleted_at__isnull=True).exists()
    assert events_by_target(org, "datasource.deleted") == sorted(str(r.public_id) for r in rows)
    assert offboarding.org_offboard_run(org=org, actor=SYSTEM) == "already offboarded"


def test_a_refused_data_source_is_named_retried_with_backoff_and_alerted(
    org, sources, emulator, operator_client
):
    CustomerOrg.objects.filter(pk=org.pk).update(owner=operator_client.user)
    stuck = sources[2]
    emulator.set_faults(
        [
            {
                "method": "PUT",
                "pathRegex": f"^/v1/dataSources/{stuck.webex_id}$",
                "kind": "status",
                "status": 500,
                "message": "Injected failure",
                "times": None,
            }
        ]
    )
    start(org, "disable")
    outcome = offboarding.org_offboard_run(org=org, actor=SYSTEM)
    assert outcome.startswith("1 data source failed; retried automatically at")
    org.refresh_from_db()
    progress = org.offboard_progress
    assert progress["done"] == 3 and progress["failed"] == 1 and progress["attempts"] == 1
    [failure] = progress["failures"]
    assert failure["datasource"] == str(stuck.public_id) and failure["status"] == 500
    assert "Injected failure" in failure["message"] and failure["tracking_id"]
    assert org.offboard_next_attempt_at is not None

    # The org page says what is left, with Webex's reason.
    page = operator_client.get(reverse("tenants:org_detail", args=[org.public_id])).content.decode()
    assert "Left to do" in page and stuck.url in page and failure["tracking_id"] in page

    # The owner is told.
    alerts_evaluate(actor=SYSTEM)
    alert = Alert.objects.get(kind="offboarding_stalled", org=org, resolved_at__isnull=True)
    assert alert.owner == operator_client.user and "1 data source left" in alert.summary

    # Not before its back-off, then on its own once Webex answers again.
    assert offboarding_sweep() == 0
    emulator.clear_faults()
    with time_machine.travel(org.offboard_next_attempt_at + dt.timedelta(seconds=1)):
        assert tenant_selectors.orgs_offboarding_due() == [org.pk]
    offboarding.org_offboard_run(org=org, actor=SYSTEM)
    org.refresh_from_db()
    assert org.status == Status.OFFBOARDED and not live_rows(org).exists()
    alerts_evaluate(actor=SYSTEM)
    assert not Alert.objects.filter(kind="offboarding_stalled", resolved_at__isnull=True).exists()


def test_an_offboarding_nobody_picked_up_is_alerted_and_swept(org, sources, settings):
    start(org, "disable")
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=20)
    with time_machine.travel(later):
        alerts_evaluate(actor=SYSTEM)
        alert = Alert.objects.get(kind="offboarding_stalled", org=org)
        assert "no progress since" in alert.summary
        assert tenant_selectors.orgs_offboarding_due() == [org.pk]


def test_an_org_that_removed_the_app_is_closed_here_with_the_reason(
    org, sources, webex_world, emulator
):
    emulator.deauthorize(webex_world.application_id, webex_world.org_id)
    start(org, "disable")
    assert offboarding.org_offboard_run(org=org, actor=SYSTEM) == "offboarded"
    assert not live_rows(org).exists()
    for row in DataSource.objects.filter(org=org):
        event = AuditEvent.objects.get(target_id=str(row.public_id), action="datasource.disabled")
        assert "disabled here only" in event.summary
    # Nothing reached Webex's data sources: it refused the org's token.
    assert {d["status"] for d in at_webex(emulator, org).values()} == {"active"}


def test_no_rotation_sneaks_in_while_an_offboarding_disables(org, sources, emulator):
    from datasources.services import datasource_rotate

    start(org, "disable")
    assert datasource_rotate(ds_id=sources[0].pk, force=True).outcome == "paused"
    offboarding.org_offboard_run(org=org, actor=SYSTEM)
    assert datasource_rotate(ds_id=sources[0].pk, force=True).outcome == "skipped"
