"""Alerts that stay true: the headline is computed when shown and when sent, severity follows
the deadline (at risk: warning; lapsed: critical) with a notice on each escalation and on
resolution, at-risk is a share of the lifetime with a floor, and every alert names its owner,
cause and next step. Time moves with time_machine, never sleeps; Webex is the emulator."""

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from alerts import services, tasks
from alerts.models import Alert, AlertDelivery, Kind
from alerts.presentation import present
from audit.models import AuditEvent
from datasources.models import DataSource
from datasources.services import datasource_rotate
from tenants.models import CustomerOrg, OrgToken
from tenants.services import org_tokens_refresh

from .conftest import SYSTEM

pytestmark = pytest.mark.django_db


def evaluate():
    return services.alerts_evaluate(actor=SYSTEM)


def deliver(alert, event):
    return services.alert_deliver(alert=alert, event=event, actor=SYSTEM)


def test_the_headline_is_live_and_severity_escalates_with_a_second_notice(
    register, channel, receiver
):
    ds = register(token_lifetime_minutes=30)
    expires = DataSource.objects.get(pk=ds.pk).token_expires_at
    with time_machine.travel(expires - dt.timedelta(minutes=7), tick=False):
        report = evaluate()
        alert = Alert.objects.get(pk=report.opened[0])
        assert alert.kind == Kind.TOKEN_AT_RISK and alert.severity == "warning"
        assert present(alert).headline.startswith("Data stops flowing in 7 min for Globex Retail")
        assert deliver(alert, "opened").sent == 2
    [first] = receiver.payloads()
    assert first["byods"]["event"] == "opened" and first["byods"]["severity"] == "warning"
    assert "stops flowing in 7 min" in first["byods"]["headline"]
    assert "(warning)" in mail.outbox[-1].subject

    with time_machine.travel(expires + dt.timedelta(minutes=3), tick=False):
        # Shown before any evaluation: already true, never the words of the opening.
        stale = Alert.objects.get(pk=alert.pk)
        assert present(stale).headline.startswith("Data stopped flowing 3 min ago")
        report = evaluate()
        assert report.escalated == [alert.pk] and report.opened == []
        alert.refresh_from_db()
        assert alert.severity == "critical" and alert.escalated_at is not None
        assert deliver(alert, "escalated").sent == 2
        assert evaluate().escalated == []  # once per rise
    second = receiver.payloads()[1]
    assert second["byods"]["event"] == "escalated" and second["byods"]["severity"] == "critical"
    assert "stopped flowing 3 min ago" in second["byods"]["headline"]
    assert mail.outbox[-1].subject.startswith("[BYODS ESCALATED] Token at risk: Globex Retail")
    assert "(critical)" in mail.outbox[-1].subject
    escalated = AuditEvent.objects.get(action="alert.escalated")
    assert "from warning to critical" in escalated.summary

    # Back at the real time the JWS is fresh again: resolved, and the teams are told.
    assert evaluate().resolved == [alert.pk]
    assert deliver(alert, "resolved").sent == 2
    assert receiver.payloads()[2]["byods"]["event"] == "resolved"
    assert AlertDelivery.objects.filter(alert=alert).count() == 6


def test_the_evaluation_task_queues_the_escalation_notice(register, monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.deliver, "delay_on_commit", lambda *a: queued.append(a))
    ds = register(token_lifetime_minutes=30)
    expires = DataSource.objects.get(pk=ds.pk).token_expires_at
    with time_machine.travel(expires - dt.timedelta(minutes=5), tick=False):
        tasks.evaluate()
    with time_machine.travel(expires + dt.timedelta(minutes=1), tick=False):
        assert tasks.evaluate()["escalated"] == 1
    alert = Alert.objects.get()
    assert (alert.pk, "opened") in queued and (alert.pk, "escalated") in queued


@pytest.mark.parametrize(
    ("lifetime", "left", "at_risk"),
    [
        (30, dt.timedelta(minutes=8), False),
        (30, dt.timedelta(minutes=7), True),  # a quarter of 30 min: 7.5 min ahead
        (1440, dt.timedelta(hours=6, minutes=5), False),
        (1440, dt.timedelta(hours=5, minutes=55), True),  # a 24 h JWS: hours ahead
        (10, dt.timedelta(minutes=4, seconds=50), True),  # the floor (5 min) wins
    ],
)
def test_at_risk_is_a_share_of_the_lifetime_with_a_floor(register, lifetime, left, at_risk):
    ds = register(token_lifetime_minutes=lifetime)
    expires = DataSource.objects.get(pk=ds.pk).token_expires_at
    with time_machine.travel(expires - left, tick=False):
        assert bool(evaluate().opened) is at_risk


def test_a_refresh_that_meets_one_429_far_from_the_deadline_opens_nothing(org, emulator):
    emulator.set_faults(
        [
            {
                "method": "POST",
                "pathRegex": "access_token",
                "kind": "status",
                "status": 429,
            }
        ]
    )
    token = OrgToken.objects.get(org=org)
    result = org_tokens_refresh(org_id=org.pk, force=True, seen_version=token.version, actor=SYSTEM)
    assert result.outcome != "refreshed"
    assert OrgToken.objects.get(org=org).consecutive_failures == 1
    assert evaluate().opened == []
    assert not Alert.objects.exists()


def test_an_org_token_near_its_deadline_is_at_risk_then_lapsed(org):
    token = OrgToken.objects.get(org=org)
    lifetime = token.access_expires_at - (token.last_refreshed_at or token.obtained_at)
    with time_machine.travel(token.access_expires_at - lifetime * 0.2, tick=False):
        alert = Alert.objects.get(pk=evaluate().opened[0])
        assert (alert.kind, alert.severity) == (Kind.TOKEN_AT_RISK, "warning")
        assert present(alert).headline.startswith("Data stops flowing in")
    with time_machine.travel(token.access_expires_at + dt.timedelta(hours=2), tick=False):
        assert evaluate().escalated == [alert.pk]
        assert present(Alert.objects.get(pk=alert.pk)).headline.startswith(
            "Data stopped flowing 2 h ago for Globex Retail"
        )


def test_a_rotation_failing_once_opens_nothing_three_times_a_warning(register):
    ds = register()
    DataSource.objects.filter(pk=ds.pk).update(consecutive_failures=1)
    assert evaluate().opened == []
    DataSource.objects.filter(pk=ds.pk).update(consecutive_failures=3)
    alert = Alert.objects.get(pk=evaluate().opened[0])
    assert alert.kind == Kind.ROTATION_FAILING and alert.severity == "warning"
    assert "failed 3 times in a row" in present(alert).headline


def test_every_alert_names_its_owner_cause_and_next_step(
    org, register, emulator, settings, django_user_model, client_for
):
    settings.ALERT_DEFAULT_OWNER = "Team Rotations"
    ds = register(token_lifetime_minutes=30)
    emulator.set_faults(
        [{"method": "PUT", "pathRegex": "dataSources", "kind": "status", "status": 500}]
    )
    result = datasource_rotate(ds_id=ds.pk, force=True, actor=SYSTEM)
    assert result.outcome == "failed"
    failed = DataSource.objects.get(pk=ds.pk)
    assert failed.last_error and failed.last_tracking_id
    with time_machine.travel(failed.token_expires_at - dt.timedelta(minutes=6), tick=False):
        alert = Alert.objects.get(pk=evaluate().opened[0])
        shown = present(alert)
        assert shown.owner == "Team Rotations"  # the org has no owner: the team default
        assert shown.cause.error == failed.last_error
        assert shown.cause.tracking_id == failed.last_tracking_id
        assert shown.cause.since == alert.opened_at
        assert "rotation failed once" in shown.headline
        assert shown.next_step.label == "Rotate now"
        assert shown.next_step.url == reverse("datasources:rotate", args=[ds.public_id])
        # Mail names them too.
        body = "\n".join(services.delivery._message(alert, "opened")[1:2])
        assert "Owner: Team Rotations" in body and failed.last_tracking_id in body
        assert "Next: Rotate the JWS now" in body

        owner = django_user_model.objects.create_user(username="cs-owner@example.com")
        CustomerOrg.objects.filter(pk=org.pk).update(owner=owner)
        assert present(Alert.objects.get(pk=alert.pk)).owner == "cs-owner@example.com"

        rotate = reverse("datasources:rotate", args=[ds.public_id])
        for persona, has_button in (("operator", True), ("onboarding", True), ("auditor", False)):
            client = client_for(persona)
            html = client.get(reverse("alerts:list")).content.decode()
            assert "Data stops flowing in 6 min" in html
            assert "cs-owner@example.com" in html and failed.last_tracking_id in html
            assert (f'action="{rotate}"' in html) is has_button
            detail = client.get(reverse("alerts:detail", args=[alert.public_id]))
            page = detail.content.decode()
            assert "Rotate the JWS now" in page and "Critical" not in page
            assert (f'action="{rotate}"' in page) is has_button
        api = client.get(f"/api/v1/alerts/{alert.public_id}/").json()  # the auditor's
        assert api["headline"].startswith("Data stops flowing in 6 min")
        assert api["owner"] == "cs-owner@example.com" and api["severity"] == "warning"
        assert api["cause"]["tracking_id"] == failed.last_tracking_id
        assert api["next_step"] == {
            "text": shown.next_step.text,
            "action": "Rotate now",
            "url": rotate,
            "method": "POST",
        }


def test_next_steps_by_kind(org, register, webex_world):
    CustomerOrg.objects.filter(pk=org.pk).update(status="reauthorization_required")
    reauth = Alert.objects.get(pk=evaluate().opened[0])
    step = present(reauth).next_step
    assert step.label == "Reauthorization link"
    assert step.url == reverse("tenants:org_detail", args=[org.public_id])
    incident = services.alert_incident_raise(
        org=org, summary="Receiver down", user=None, actor=SYSTEM
    )
    assert present(incident).next_step.url == "" and present(incident).severity == "critical"
    assert timezone.now() >= reauth.opened_at


def test_a_data_source_disabled_at_webex_is_a_critical_drift_alert_naming_it(
    org, register, webex_world, client_for
):
    from datasources.services import datasources_reconcile_org
    from datasources.tests.test_not_flowing import change_at_webex

    ds = register()
    change_at_webex(webex_world, org, ds, status="disabled", error_message="Paused at Webex")
    datasources_reconcile_org(org=org, actor=SYSTEM)
    alert = Alert.objects.get(pk=evaluate().opened[0])
    assert alert.kind == Kind.DRIFT_FOUND and alert.severity == "critical"
    shown = present(alert)
    assert shown.headline == (
        "1 difference between the portal and Webex for Globex Retail; "
        f"not flowing: {ds.url} (disabled at Webex)"
    )
    assert shown.next_step.label == "Adopt or repair drift"
    drift = reverse("datasources:drift_list", args=[org.public_id])
    clients = {persona: client_for(persona) for persona in ("operator", "onboarding", "auditor")}
    for persona, has_button in (("operator", True), ("onboarding", False), ("auditor", False)):
        html = clients[persona].get(reverse("alerts:list")).content.decode()
        assert "not flowing: " in html and "Critical" in html
        assert (f'href="{drift}"' in html) is has_button
    dashboard = clients["auditor"].get(reverse("dashboard")).content.decode()
    assert f"not flowing: {ds.url} (disabled at Webex)" in dashboard
