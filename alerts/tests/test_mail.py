"""Alert notices by e-mail through a real SMTP server (aiosmtpd on loopback), configured from an
EMAIL_URL the way settings.py reads it: login, envelope, refusals and retries."""

import pytest

from alerts import services
from alerts.models import Alert, AlertDelivery, Kind
from audit.models import AuditEvent

from .conftest import SMTP_PASSWORD, SMTP_USER, SYSTEM

pytestmark = pytest.mark.django_db


@pytest.fixture
def mail_channel(db):
    return services.alertchannel_create(
        team="On call",
        email_recipients=["oncall@example.com", "lead@example.com"],
        kinds=list(Kind.values),
        actor=SYSTEM,
    )


def deliver(alert):
    return services.alert_deliver(alert=alert, event="opened", actor=SYSTEM)


def test_an_alert_arrives_through_a_real_smtp_server(mail_server, mail_channel, reauth, settings):
    report = deliver(reauth)
    assert (report.sent, report.failed) == (1, 0)
    # The user and password came out of the URL (percent-encoded there) and logged in.
    assert mail_server.logins == [(SMTP_USER, SMTP_PASSWORD)]
    [received] = mail_server.messages
    assert received["from"] == settings.DEFAULT_FROM_EMAIL
    assert sorted(received["to"]) == ["lead@example.com", "oncall@example.com"]
    message = received["message"]
    assert message["Subject"] == "[BYODS ALERT] Org needs reauthorization: Globex Retail (warning)"
    body = message.get_content()
    assert "Globex Retail must reauthorize the Service App; data stops flowing in" in body
    assert "Owner: owner@example.com" in body and "Next: Send the org's admin" in body
    assert SMTP_PASSWORD not in message.as_string()
    assert AlertDelivery.objects.get().sent_at is not None
    assert Alert.objects.get(pk=reauth.pk).notified_at is not None
    # A retried task sends nothing twice.
    assert deliver(reauth).sent == 0 and len(mail_server.messages) == 1


def test_a_refusing_smtp_server_leaves_the_notice_unsent_and_audited(
    mail_server, mail_channel, reauth
):
    mail_server.refuse = "550 5.1.1 Mailbox unavailable"
    report = deliver(reauth)
    assert (report.sent, report.failed) == (0, 1)
    assert mail_server.messages == []
    delivery = AlertDelivery.objects.get()
    assert delivery.sent_at is None and delivery.attempts == 1
    assert delivery.last_error == "mail server refused: SMTPRecipientsRefused (550)"
    failure = AuditEvent.objects.get(action="alert.notified", outcome="failed")
    assert "by email failed; it will be retried" in failure.summary
    assert failure.error == delivery.last_error
    assert Alert.objects.get(pk=reauth.pk).notified_at is None
    # The server takes mail again: the retry sends it, once.
    mail_server.refuse = ""
    assert deliver(reauth).sent == 1
    assert len(mail_server.messages) == 1
    assert AlertDelivery.objects.get().attempts == 2


def test_a_wrong_smtp_password_fails_without_showing_it(
    mail_server, mail_channel, reauth, settings
):
    settings.EMAIL_HOST_PASSWORD = "not-the-password-123"
    assert deliver(reauth).failed == 1
    delivery = AlertDelivery.objects.get()
    assert delivery.last_error == "mail server refused: SMTPAuthenticationError (535)"
    for event in AuditEvent.objects.all():
        assert "not-the-password-123" not in f"{event.summary} {event.error} {event.changes}"
    assert mail_server.messages == []


def test_an_unreachable_smtp_server_is_a_recorded_failure(mail_server, mail_channel, reauth):
    mail_server.close()
    assert deliver(reauth).failed == 1
    assert AlertDelivery.objects.get().last_error.startswith("mail server unreachable: ")
