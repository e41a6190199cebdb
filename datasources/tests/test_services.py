"""Data sources against the emulator over real HTTP: register, edit, status, delete, rotation."""

import datetime as dt
import threading
import time

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import close_old_connections, connection
from django.utils import timezone

from audit.models import AuditEvent
from datasources import services
from datasources.models import DataSource, NonceRecord
from tenants.models import CustomerOrg, OrgToken

from .conftest import SCHEMA, SYSTEM

pytestmark = pytest.mark.django_db


def remote(emulator, ds):
    return next(d for d in emulator.state()["dataSources"] if d["id"] == ds.webex_id)


def remote_nonces(emulator, ds):
    return [
        n["nonce"] for n in emulator.state()["nonceHistory"] if n["dataSourceId"] == ds.webex_id
    ]


def puts(emulator, ds):
    return [r for r in emulator.requests_log(method="PUT") if ds.webex_id in r["path"]]


def test_register_stores_what_webex_accepted(register, emulator):
    before = timezone.now()
    ds = register()
    assert ds.webex_id and ds.status == "active"
    assert dt.timedelta(minutes=59) < ds.token_expires_at - before <= dt.timedelta(minutes=61)
    lifetime = ds.token_expires_at - before
    assert before + lifetime * 0.45 < ds.next_rotation_at < before + lifetime * 0.75
    assert remote(emulator, ds)["nonce"] == ds.nonce
    assert NonceRecord.objects.get(datasource=ds).outcome == "ok"
    assert AuditEvent.objects.filter(action="datasource.registered", outcome="ok").count() == 1


def test_invalid_input_never_reaches_webex(register, emulator):
    with pytest.raises(ValidationError) as err:
        register(url="https://byods.example.com.evil.io/x", token_lifetime_minutes=0)
    assert set(err.value.message_dict) == {"url", "token_lifetime_minutes"}
    assert emulator.requests_log(method="POST", path="/v1/dataSources") == []


def test_a_schema_outside_the_org_snapshot_is_refused(register, org):
    org.authorized_schema_ids = []
    with pytest.raises(ValidationError, match="not among those the org authorized"):
        register(org=org)


def test_storing_failure_after_webex_accepted_deletes_it_again(register, emulator, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(NonceRecord.objects, "create", broken)
    with pytest.raises(RuntimeError):
        register()
    assert emulator.state()["dataSources"] == []
    assert not DataSource.objects.exists()
    event = AuditEvent.objects.get(action="datasource.registered", outcome="failed")
    assert "deleted again at Webex" in event.summary


def test_edit_sends_the_full_payload_with_a_new_nonce(register, emulator):
    ds = register()
    edited = services.datasource_update(
        ds=ds,
        schema_id=SCHEMA,
        url="https://rx2.byods.example.com/feed",
        audience="new-aud",
        subject="globex-voice",
        token_lifetime_minutes=30,
        actor=SYSTEM,
    )
    at_webex = remote(emulator, edited)
    assert at_webex["url"] == "https://rx2.byods.example.com/feed"
    assert at_webex["audience"] == "new-aud" and at_webex["tokenLifetimeMinutes"] == 30
    assert edited.nonce != ds.nonce and edited.previous_nonce == ds.nonce
    assert edited.version == ds.version + 1


def test_disable_needs_a_message_then_enable_clears_it(register, emulator):
    ds = register()
    with pytest.raises(ValidationError) as err:
        services.datasource_disable(ds=ds, message="  ", actor=SYSTEM)
    assert "Control Hub" in err.value.message_dict["message"][0]
    assert puts(emulator, ds) == []
    ds = services.datasource_disable(ds=ds, message="Maintenance until 14:00 UTC", actor=SYSTEM)
    assert (ds.status, ds.next_rotation_at) == ("disabled", None)
    assert remote(emulator, ds)["status"] == "disabled"
    assert remote(emulator, ds)["errorMessage"] == "Maintenance until 14:00 UTC"
    ds = services.datasource_enable(ds=ds, actor=SYSTEM)
    assert ds.status == "active" and ds.error_message == "" and ds.next_rotation_at
    assert remote(emulator, ds)["status"] == "active"


def test_delete_needs_a_reason_and_keeps_the_nonce_history(register, emulator):
    ds = register()
    with pytest.raises(ValidationError):
        services.datasource_delete(ds=ds, reason="", actor=SYSTEM)
    services.datasource_delete(ds=ds, reason="Customer asked", actor=SYSTEM)
    assert emulator.state()["dataSources"] == []
    ds.refresh_from_db()
    assert ds.deleted_at and NonceRecord.objects.filter(datasource=ds).count() == 1
    assert AuditEvent.objects.get(action="datasource.deleted").reason == "Customer asked"


def test_scheduled_maintenance_disables_then_enables(register, emulator):
    ds = register()
    start = timezone.now() + dt.timedelta(hours=1)
    services.datasource_schedule_maintenance(
        ds=ds,
        disable_at=start,
        enable_at=start + dt.timedelta(hours=2),
        message="Planned upgrade",
        actor=SYSTEM,
    )
    assert services.datasource_apply_maintenance(actor=SYSTEM) == 0
    assert (
        services.datasource_apply_maintenance(now=start + dt.timedelta(minutes=1), actor=SYSTEM)
        == 1
    )
    assert remote(emulator, ds)["status"] == "disabled"
    assert remote(emulator, ds)["errorMessage"] == "Planned upgrade"
    assert (
        services.datasource_apply_maintenance(now=start + dt.timedelta(hours=3), actor=SYSTEM) == 1
    )
    ds.refresh_from_db()
    assert ds.status == "active" and ds.maintenance_disable_at is None
    with pytest.raises(ValidationError) as err:
        services.datasource_schedule_maintenance(
            ds=ds, disable_at=start, enable_at=start, message="", actor=SYSTEM
        )
    assert set(err.value.message_dict) == {"enable_at", "message"}


def test_a_maintenance_window_waits_for_a_rotation_in_flight(register, emulator, monkeypatch):
    """The window's disable is not a second PUT beside the rotation's: it is postponed, then
    made by the next run."""
    from webex.client import WebexClient

    ds = register()
    start = timezone.now() + dt.timedelta(minutes=1)
    services.datasource_schedule_maintenance(
        ds=ds,
        disable_at=start,
        enable_at=start + dt.timedelta(hours=1),
        message="Upgrade",
        actor=SYSTEM,
    )
    real, applied = WebexClient.update_datasource, []

    def maintenance_meanwhile(self, **kwargs):
        if not applied:  # only the rotation's own call: mark first, the window may PUT too
            applied.append(None)
            applied[0] = services.datasource_apply_maintenance(now=start, actor=SYSTEM)
        return real(self, **kwargs)

    monkeypatch.setattr(WebexClient, "update_datasource", maintenance_meanwhile)
    emulator.clear_requests_log()
    assert services.datasource_rotate(ds_id=ds.pk, force=True, actor=SYSTEM).outcome == "rotated"
    assert applied == [0] and len(emulator.requests_log(method="PUT")) == 1
    assert services.datasource_apply_maintenance(now=start, actor=SYSTEM) == 1
    assert remote(emulator, ds)["status"] == "disabled"


# ------------------------------------------------------------------------- rotation
def test_rotation_replaces_the_nonce_and_extends_the_token(register, emulator):
    ds = register()
    result = services.datasource_rotate(ds_id=ds.pk, force=True, actor=SYSTEM)
    assert result.outcome == "rotated"
    fresh = DataSource.objects.get(pk=ds.pk)
    assert fresh.nonce != ds.nonce and fresh.previous_nonce == ds.nonce
    assert fresh.previous_token_expires_at == ds.token_expires_at
    assert fresh.version == ds.version + 1 and fresh.pending_nonce == ""
    assert remote(emulator, fresh)["nonce"] == fresh.nonce
    assert AuditEvent.objects.filter(action="datasource.rotated").count() == 1


def test_a_crash_after_the_pending_nonce_resumes_with_the_same_nonce(
    register, emulator, monkeypatch
):
    ds = register()
    from webex.client import WebexClient

    real = WebexClient.update_datasource

    def die(self, **kwargs):
        raise SystemExit("worker killed between writing the nonce and calling Webex")

    monkeypatch.setattr(WebexClient, "update_datasource", die)
    with pytest.raises(SystemExit):
        services.datasource_rotate(ds_id=ds.pk, force=True, actor=SYSTEM)
    pending = DataSource.objects.get(pk=ds.pk).pending_nonce
    assert pending
    monkeypatch.setattr(WebexClient, "update_datasource", real)
    assert services.datasource_rotate(ds_id=ds.pk, actor=SYSTEM).outcome == "rotated"
    assert DataSource.objects.get(pk=ds.pk).nonce == pending
    assert remote_nonces(emulator, ds) == [ds.nonce, pending]  # one rotation, one new nonce


def test_a_lost_response_is_retried_with_the_same_nonce(register, emulator, settings):
    ds = register()
    settings.WEBEX_READ_TIMEOUT = 0.5
    emulator.set_faults(
        [
            {
                "method": "PUT",
                "pathRegex": "/v1/dataSources/",
                "kind": "timeout",
                "delaySeconds": 1,
                "times": 1,
            }
        ]
    )
    assert services.datasource_rotate(ds_id=ds.pk, force=True, actor=SYSTEM).outcome == "rotated"
    time.sleep(1.2)  # let the emulator finish the request whose answer the client gave up on
    attempts = puts(emulator, ds)
    assert len(attempts) == 2  # the attempt whose answer was lost, then the retry
    # (the emulator logs no nonce for the attempt the client abandoned)
    assert {r["nonce"] for r in attempts} - {None} == {DataSource.objects.get(pk=ds.pk).nonce}
    assert len(set(remote_nonces(emulator, ds))) == 2


def test_an_answered_retry_holds_the_data_source_until_the_unanswered_attempt_settled(
    register, emulator, settings
):
    """The client re-sends a PUT whose answer did not come in time; when the re-send is
    answered, the first attempt may still be at Webex and land later. A change sent in
    between would be undone by it (Webex back on the rotation's payload and nonce while the
    portal has the change): until that attempt has settled, nothing else goes out."""
    ds = register()
    settings.WEBEX_READ_TIMEOUT = 0.5
    emulator.set_faults(
        [
            {
                "method": "PUT",
                "pathRegex": "/v1/dataSources/",
                "kind": "timeout",
                "delaySeconds": 2.5,  # the first attempt lands ~2.5 s in; the re-send by ~1.1 s
                "times": 1,
            }
        ]
    )
    assert services.datasource_rotate(ds_id=ds.pk, force=True, actor=SYSTEM).outcome == "rotated"
    rotated = DataSource.objects.get(pk=ds.pk)
    with pytest.raises(services.DataSourceBusy):
        services.datasource_disable(ds=rotated, message="Maintenance", actor=SYSTEM)
    time.sleep(2.6)  # the first attempt lands (the same nonce and payload: no harm alone)
    assert (remote(emulator, ds)["nonce"], remote(emulator, ds)["status"]) == (
        rotated.nonce,
        "active",
    )
    with time_machine.travel(rotated.inflight_until + dt.timedelta(seconds=1)):
        disabled = services.datasource_disable(ds=rotated, message="Maintenance", actor=SYSTEM)
    there = remote(emulator, ds)
    assert (there["nonce"], there["status"]) == (disabled.nonce, "disabled")


def test_a_refusal_after_an_unanswered_attempt_holds_the_data_source_too(
    register, emulator, settings
):
    """First attempt unanswered (held at Webex), the client's re-send refused with a 500: the
    call ended with an answer, but the first attempt is still there, so "rotate now" right
    after says in_progress instead of sending the pending nonce beside it."""
    ds = register()
    settings.WEBEX_READ_TIMEOUT = 0.5
    emulator.set_faults(
        [
            {
                "method": "PUT",
                "pathRegex": "/v1/dataSources/",
                "kind": "timeout",
                "delaySeconds": 2.5,
                "times": 1,
            },
            {
                "method": "PUT",
                "pathRegex": "/v1/dataSources/",
                "kind": "status",
                "status": 500,
                "times": 1,
            },
        ]
    )
    assert services.datasource_rotate(ds_id=ds.pk, force=True, actor=SYSTEM).outcome == "failed"
    assert services.datasource_rotate(ds_id=ds.pk, force=True, actor=SYSTEM).outcome == (
        "in_progress"
    )
    assert len(puts(emulator, ds)) == 1  # the 500; the held attempt is logged when it ends
    failed = DataSource.objects.get(pk=ds.pk)
    assert failed.next_rotation_at >= failed.inflight_until


def test_an_unanswered_call_holds_the_data_source_until_it_settled(register, emulator, settings):
    """No answer is not an ending: Webex may still be applying that PUT, so for one more read
    timeout nothing else (an edit, a retry) is sent for the data source."""
    ds = register()
    settings.WEBEX_READ_TIMEOUT = 0.5
    emulator.set_faults(
        [{"method": "PUT", "pathRegex": "/v1/dataSources/", "kind": "reset", "times": None}]
    )
    result = services.datasource_rotate(ds_id=ds.pk, force=True, actor=SYSTEM)
    assert result.outcome == "failed"
    emulator.clear_faults()
    emulator.clear_requests_log()
    fresh = DataSource.objects.get(pk=ds.pk)
    assert fresh.inflight_until is not None and fresh.next_rotation_at >= fresh.inflight_until
    with pytest.raises(services.DataSourceBusy):
        services.datasource_disable(ds=fresh, message="Maintenance", actor=SYSTEM)
    again = services.datasource_rotate(ds_id=ds.pk, force=True, actor=SYSTEM)
    assert again.outcome == "in_progress" and puts(emulator, ds) == []
    with time_machine.travel(fresh.inflight_until + dt.timedelta(seconds=1)):
        assert services.datasource_rotate(ds_id=ds.pk, force=True, actor=SYSTEM).outcome == (
            "rotated"
        )
    assert [r["nonce"] for r in puts(emulator, ds)] == [fresh.pending_nonce]


def test_401_refreshes_the_org_token_once_and_retries(register, emulator):
    ds = register()
    token = OrgToken.objects.get(org=ds.org)
    emulator.advance_clock(15 * 86400)  # the access token expired at Webex
    assert services.datasource_rotate(ds_id=ds.pk, force=True, actor=SYSTEM).outcome == "rotated"
    assert OrgToken.objects.get(org=ds.org).version == token.version + 1
    assert len(emulator.requests_log(path="/v1/access_token")) == 1


def test_429_reschedules_at_retry_after_and_keeps_the_nonce(register, emulator):
    ds = register()
    emulator.set_faults(
        [
            {
                "method": "PUT",
                "pathRegex": "/v1/dataSources/",
                "kind": "status",
                "status": 429,
                "retryAfter": 120,
            }
        ]
    )
    before = timezone.now()
    result = services.datasource_rotate(ds_id=ds.pk, force=True, actor=SYSTEM)
    assert result.outcome == "rate_limited"
    fresh = DataSource.objects.get(pk=ds.pk)
    assert (
        before + dt.timedelta(seconds=115)
        < fresh.next_rotation_at
        < before + dt.timedelta(seconds=125)
    )
    assert fresh.pending_nonce and fresh.nonce == ds.nonce
    emulator.clear_faults()
    assert services.datasource_rotate(ds_id=ds.pk, force=True, actor=SYSTEM).outcome == "rotated"
    assert DataSource.objects.get(pk=ds.pk).nonce == fresh.pending_nonce


def test_5xx_backs_off_but_stays_before_expiry(register, emulator):
    ds = register(token_lifetime_minutes=2)
    emulator.set_faults(
        [{"method": "PUT", "pathRegex": "/v1/dataSources/", "kind": "status", "status": 503}]
    )
    for _ in range(6):
        services.datasource_rotate(ds_id=ds.pk, force=True, actor=SYSTEM)
    fresh = DataSource.objects.get(pk=ds.pk)
    assert fresh.consecutive_failures == 6
    assert fresh.next_rotation_at < fresh.token_expires_at  # never planned after the lapse
    assert fresh.health() in {"failing", "at_risk"}
    assert AuditEvent.objects.filter(action="datasource.rotation_failed").count() == 6


def test_404_marks_the_data_source_missing_and_stops_rotating(register, emulator, webex_world):
    ds = register()
    from webex.client import WebexClient

    WebexClient(api_base=webex_world.api_base).delete_datasource(
        access_token=OrgToken.objects.get(org=ds.org).access_token, datasource_id=ds.webex_id
    )
    assert services.datasource_rotate(ds_id=ds.pk, force=True, actor=SYSTEM).outcome == "missing"
    fresh = DataSource.objects.get(pk=ds.pk)
    assert fresh.missing_at_webex_since and fresh.next_rotation_at is None
    assert fresh.health() == "missing"
    assert AuditEvent.objects.filter(action="datasource.drift_found").exists()


def test_an_org_that_lost_authorization_pauses_rotation(register, emulator):
    ds = register()
    CustomerOrg.objects.filter(pk=ds.org.pk).update(status="deauthorized")
    assert services.datasource_rotate(ds_id=ds.pk, force=True, actor=SYSTEM).outcome == "paused"
    assert puts(emulator, ds) == []
    assert DataSource.objects.get(pk=ds.pk).health() == "paused"


def test_only_due_data_sources_are_claimed_and_never_twice(register):
    due = register()
    register(url="https://other.byods.example.com/x")  # not due
    DataSource.objects.filter(pk=due.pk).update(next_rotation_at=timezone.now())
    assert services.datasource_claim_due() == [due.pk]
    assert services.datasource_claim_due() == []


@pytest.mark.django_db(transaction=True)
def test_two_workers_sweeping_at_once_never_rotate_the_same_one_twice(register, emulator):
    sources = [register(url=f"https://rx{i}.byods.example.com/x") for i in range(12)]
    DataSource.objects.update(next_rotation_at=timezone.now() - dt.timedelta(seconds=1))
    emulator.clear_requests_log()
    emulator.set_latency(50)
    barrier = threading.Barrier(2)

    def worker():
        try:
            barrier.wait()
            for pk in services.datasource_claim_due(limit=100):
                services.datasource_rotate(ds_id=pk, actor=SYSTEM)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    mine = {d.webex_id for d in sources}
    # Only this world's data sources: a call an earlier test left stalled at the emulator
    # (a timeout fault) may still land in the log after it was cleared.
    rotated_ids = [
        webex_id
        for r in emulator.requests_log(method="PUT")
        if (webex_id := r["path"].rsplit("/", 1)[-1]) in mine
    ]
    assert sorted(rotated_ids) == sorted(mine)  # each exactly once


def test_nonces_are_never_reused(register):
    ds = register()
    for _ in range(5):
        services.datasource_rotate(ds_id=ds.pk, force=True, actor=SYSTEM)
    nonces = list(NonceRecord.objects.values_list("nonce", flat=True))
    assert len(nonces) == len(set(nonces)) == 6


def test_health_reports_expired_and_at_risk(register):
    ds = register()
    with time_machine.travel(ds.token_expires_at - dt.timedelta(minutes=5)):
        assert DataSource.objects.get(pk=ds.pk).health() == "at_risk"
    with time_machine.travel(ds.token_expires_at + dt.timedelta(seconds=1)):
        assert DataSource.objects.get(pk=ds.pk).health() == "expired"
