"""Delivery: e-mail (locmem backend) and a signed webhook to a real local HTTP server."""

import hashlib
import hmac
import time

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection

from alerts import services, tasks
from alerts.models import Alert, AlertChannel, AlertDelivery, Kind
from audit.models import AuditEvent
from tenants.models import CustomerOrg

from .conftest import SECRET, SYSTEM

pytestmark = pytest.mark.django_db


def deliver(alert, event="opened"):
    return services.alert_deliver(alert=alert, event=event, actor=SYSTEM)


def test_an_episode_is_sent_once_by_email_and_signed_webhook(channel, receiver, reauth):
    report = deliver(reauth)
    assert (report.sent, report.failed) == (2, 0)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["cs@example.com", "oncall@example.com"]
    assert "Globex Retail" in message.subject and "Owner: owner@example.com" in message.body
    [request] = receiver.requests
    headers, body = request["headers"], request["body"]
    expected = hmac.new(
        SECRET.encode(),
        b"v1:" + headers["X-BYODS-Request-Timestamp"].encode() + b":" + body,
        hashlib.sha256,
    ).hexdigest()
    assert headers["X-BYODS-Signature"] == f"v1={expected}"
    assert abs(int(headers["X-BYODS-Request-Timestamp"]) - time.time()) < 300
    payload = receiver.payloads()[0]
    assert "Globex Retail" in payload["text"] and "owner@example.com" in payload["text"]
    assert payload["blocks"][0]["type"] == "header"
    assert payload["byods"]["event"] == "opened"
    # Again (a retried task): nothing more is sent.
    assert deliver(reauth).sent == 0
    assert len(mail.outbox) == 1 and len(receiver.requests) == 1
    assert Alert.objects.get(pk=reauth.pk).notified_at is not None


def test_a_resolution_is_sent_once_and_a_new_episode_is_sent_again(channel, receiver, reauth):
    deliver(reauth)
    CustomerOrg.objects.filter(pk=reauth.org_id).update(status="active")
    report = services.alerts_evaluate(actor=SYSTEM)
    assert report.resolved == [reauth.pk]
    assert deliver(reauth, "resolved").sent == 2
    assert deliver(reauth, "resolved").sent == 0
    assert [p["byods"]["event"] for p in receiver.payloads()] == ["opened", "resolved"]
    assert "RESOLVED" in mail.outbox[1].subject
    assert Alert.objects.get(pk=reauth.pk).resolution_notified_at is not None
    CustomerOrg.objects.filter(pk=reauth.org_id).update(status="reauthorization_required")
    again = Alert.objects.get(pk=services.alerts_evaluate(actor=SYSTEM).opened[0])
    assert deliver(again).sent == 2
    assert len(receiver.requests) == 3 and len(mail.outbox) == 3


def test_a_failed_webhook_is_retried_without_resending_the_email(channel, receiver, reauth):
    receiver.status = 500
    report = deliver(reauth)
    assert (report.sent, report.failed) == (1, 1)
    failed = AlertDelivery.objects.get(medium="webhook")
    assert failed.sent_at is None and "HTTP 500" in failed.last_error
    assert AuditEvent.objects.filter(action="alert.notified", outcome="failed").exists()
    assert Alert.objects.get(pk=reauth.pk).notified_at is None
    receiver.status = 200
    report = deliver(reauth)
    assert (report.sent, report.failed) == (1, 0)
    assert len(mail.outbox) == 1 and len(receiver.requests) == 2
    assert Alert.objects.get(pk=reauth.pk).notified_at is not None


def test_the_task_retries_while_something_is_unsent(channel, receiver, reauth):
    receiver.status = 503
    with pytest.raises(tasks.DeliveryIncomplete):
        tasks.deliver.run(reauth.pk, "opened")
    receiver.status = 200
    assert tasks.deliver.run(reauth.pk, "opened") == {"sent": 1, "failed": 0, "pending": 0}


def test_an_unreachable_webhook_is_a_recorded_failure(channel, receiver, reauth):
    receiver.close()
    report = deliver(reauth)
    assert report.failed == 1
    assert "unreachable" in AlertDelivery.objects.get(medium="webhook").last_error


def test_a_channel_gets_only_the_kinds_it_chose(receiver, reauth):
    services.alertchannel_create(
        team="Drift watchers",
        email_recipients=["drift@example.com"],
        kinds=[Kind.DRIFT_FOUND],
        actor=SYSTEM,
    )
    assert deliver(reauth).sent == 0
    assert mail.outbox == []


def test_no_secret_in_payloads_audit_or_the_database_column(channel, receiver, reauth):
    deliver(reauth)
    assert SECRET.encode() not in receiver.requests[0]["body"]
    assert all(SECRET not in v for v in receiver.requests[0]["headers"].values())
    assert SECRET not in mail.outbox[0].body
    for event in AuditEvent.objects.all():
        assert SECRET not in str(event.changes) and SECRET not in event.summary
    with connection.cursor() as cursor:
        cursor.execute("SELECT webhook_secret FROM alerts_alertchannel")
        stored = cursor.fetchone()[0]
    assert SECRET not in stored and stored.startswith("enc:v1:")
    assert SECRET not in str(AlertChannel.objects.get()) + repr(AlertChannel.objects.get())


@pytest.mark.parametrize(
    ("overrides", "field", "text"),
    [
        ({"webhook_url": "http://hooks.example.com/x"}, "webhook_url", "https://"),
        ({"webhook_secret": "short"}, "webhook_secret", "16 characters"),
        ({"kinds": []}, "kinds", "at least one kind"),
        ({"email_recipients": ["not-an-address"]}, "email_recipients", "not an e-mail"),
        ({"email_recipients": [], "webhook_url": ""}, "email_recipients", "at least one"),
        ({"team": " "}, "team", "Name the team"),
    ],
)
def test_channel_input_is_checked_field_by_field(db, overrides, field, text):
    fields = dict(
        team="Ops",
        email_recipients=["ops@example.com"],
        webhook_url="https://hooks.example.com/x",
        webhook_secret=SECRET,
        kinds=[Kind.INCIDENT],
        actor=SYSTEM,
    )
    with pytest.raises(ValidationError) as exc:
        services.alertchannel_create(**(fields | overrides))
    assert text in " ".join(exc.value.message_dict[field])


def test_updating_without_a_secret_keeps_the_stored_one(channel):
    services.alertchannel_update(
        channel=channel,
        team="CS",
        email_recipients=[],
        webhook_url=channel.webhook_url,
        kinds=[Kind.INCIDENT],
        actor=SYSTEM,
    )
    fresh = AlertChannel.objects.get()
    assert fresh.webhook_secret == SECRET and fresh.team == "CS"
    services.alertchannel_delete(channel=fresh, actor=SYSTEM)
    assert not AlertChannel.objects.exists()
    assert AuditEvent.objects.filter(action="alertchannel.deleted").exists()


def test_the_evaluation_task_queues_opened_and_resolved_notices(
    org, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(tasks.deliver, "delay_on_commit", lambda *a: queued.append(a))
    CustomerOrg.objects.filter(pk=org.pk).update(status="reauthorization_required")
    assert tasks.evaluate()["opened"] == 1
    alert = Alert.objects.get()
    CustomerOrg.objects.filter(pk=org.pk).update(status="active")
    assert tasks.evaluate()["resolved"] == 1
    assert queued == [(alert.pk, "opened"), (alert.pk, "resolved")]
