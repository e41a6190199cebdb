"""Sending an alert channel a test notification: the service against real receivers (an SMTP
server and a webhook receiver on loopback), the page and the API for every persona."""

import hashlib
import hmac

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.tests.helpers import verified_login
from alerts import services
from alerts.models import AlertChannel, AlertDelivery, Kind
from audit.context import Actor
from audit.models import AuditEvent
from conftest import PERSONAS

from .conftest import SECRET, SYSTEM

pytestmark = pytest.mark.django_db
URL_PASSWORD = "url-password-4242"


def api_path(channel) -> str:
    return f"/api/v1/alerts/channels/{channel.public_id}/test/"


def signature_ok(request) -> bool:
    headers, body = request["headers"], request["body"]
    signed = b"v1:" + headers["X-BYODS-Request-Timestamp"].encode() + b":" + body
    expected = "v1=" + hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["X-BYODS-Signature"], expected)


@pytest.fixture
def real_channel(mail_server, receiver):
    """A channel whose e-mail goes to the real SMTP server and whose webhook to the receiver;
    its webhook URL carries credentials, which must never be repeated anywhere."""
    url = receiver.url.replace("http://", f"http://hookuser:{URL_PASSWORD}@")
    return services.alertchannel_create(
        team="On call",
        email_recipients=["oncall@example.com", "lead@example.com"],
        webhook_url=url,
        webhook_secret=SECRET,
        kinds=[Kind.INCIDENT],
        enabled=False,  # a channel is tested before it is switched on
        actor=SYSTEM,
    )


def channel_test_events():
    return list(AuditEvent.objects.filter(action="alertchannel.tested"))


# ------------------------------------------------------------------------- the service
def test_a_test_notice_reaches_a_real_mail_server_and_webhook(
    real_channel, mail_server, receiver, django_user_model
):
    user = django_user_model.objects.create_user(username="ops@example.com")
    report = services.alertchannel_test(channel=real_channel, actor=Actor.user(user))
    assert report.ok
    assert [(o.medium, o.ok, o.error) for o in report.outcomes] == [
        ("email", True, ""),
        ("webhook", True, ""),
    ]
    assert report.describe() == (
        "E-mail to lead@example.com, oncall@example.com: sent; Webhook: sent"
    )
    [received] = mail_server.messages
    assert sorted(received["to"]) == ["lead@example.com", "oncall@example.com"]
    message = received["message"]
    assert message["Subject"] == "[BYODS TEST] Test notification for On call"
    assert "test notification from the BYODS portal, sent by ops@example.com" in (
        message.get_content()
    )
    [request] = receiver.requests
    assert signature_ok(request)
    payload = receiver.payloads()[0]
    assert payload["byods"] == {
        "event": "test",
        "team": "On call",
        "channel_id": str(real_channel.public_id),
    }
    assert payload["text"].startswith("[BYODS TEST]")
    assert SECRET.encode() not in request["body"] and SECRET not in message.as_string()
    # A test is no alert: nothing to deliver again, nothing marked sent.
    assert not AlertDelivery.objects.exists()
    [event] = channel_test_events()
    assert event.outcome == "ok" and event.actor == "ops@example.com"
    assert event.target_id == str(real_channel.public_id) and event.target_label == "On call"
    assert event.changes == {"results": {"email": "sent", "webhook": "sent"}}
    assert event.summary == f"Test notification to On call: {report.describe()}"


def test_failing_receivers_are_reported_per_medium_and_audited(real_channel, mail_server, receiver):
    mail_server.refuse = "550 5.7.1 Relaying denied"
    receiver.status = 500
    report = services.alertchannel_test(channel=real_channel, actor=SYSTEM)
    assert not report.ok
    assert [(o.medium, o.ok, o.error) for o in report.outcomes] == [
        ("email", False, "mail server refused: SMTPRecipientsRefused (550)"),
        ("webhook", False, "webhook answered HTTP 500"),
    ]
    assert mail_server.messages == [] and len(receiver.requests) == 1
    [event] = channel_test_events()
    assert event.outcome == "failed"
    assert event.error == (
        "email: mail server refused: SMTPRecipientsRefused (550); "
        "webhook: webhook answered HTTP 500"
    )
    assert event.changes == {"results": {"email": "failed", "webhook": "failed"}}
    assert "Webhook: failed (webhook answered HTTP 500)" in event.summary
    text = f"{event.summary} {event.error} {event.changes}"
    assert SECRET not in text and URL_PASSWORD not in text


def test_an_unreachable_webhook_is_a_failure_that_names_no_url(real_channel, receiver):
    receiver.close()
    report = services.alertchannel_test(channel=real_channel, actor=SYSTEM)
    email, webhook = report.outcomes
    assert email.ok  # the mail server is up
    assert not webhook.ok and webhook.error.startswith("webhook unreachable: ")
    [event] = channel_test_events()
    assert event.outcome == "failed" and URL_PASSWORD not in event.error + event.summary
    assert "127.0.0.1" not in event.error


def test_a_channel_is_tested_only_by_the_media_it_has(db):
    channel = services.alertchannel_create(
        team="Mail only", email_recipients=["ops@example.com"], kinds=[Kind.INCIDENT], actor=SYSTEM
    )
    report = services.alertchannel_test(channel=channel, actor=SYSTEM)
    assert [o.medium for o in report.outcomes] == ["email"] and report.ok
    assert [m.subject for m in mail.outbox] == ["[BYODS TEST] Test notification for Mail only"]


# ------------------------------------------------------------------------- the page
def expect(response, persona, ok=302):
    if persona == "anonymous":
        assert response.status_code == 302 and response.url.startswith("/login/")
    elif persona == "operator":
        assert response.status_code == ok, response.status_code
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_test_button_is_for_operators(client_for, persona, real_channel, mail_server, receiver):
    client = client_for(persona)
    url = reverse("alerts:channel_test", args=[real_channel.public_id])
    response = client.post(url)
    expect(response, persona)
    sent = persona == "operator"
    assert (len(mail_server.messages), len(receiver.requests)) == ((1, 1) if sent else (0, 0))
    assert len(channel_test_events()) == (1 if sent else 0)
    if sent:
        assert response.url == reverse("alerts:channel_list")
        assert channel_test_events()[0].actor == "operator@example.com"
        html = client.get(response.url).content.decode()
        assert "Test notification to On call: E-mail to lead@example.com, " in html
        assert "Webhook: sent" in html and "alert-success" in html


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_button_shows_on_the_list_and_the_channel_page(client_for, persona, channel):
    client = client_for(persona)
    action = reverse("alerts:channel_test", args=[channel.public_id])
    for page in (
        reverse("alerts:channel_list"),
        reverse("alerts:channel_edit", args=[channel.public_id]),
    ):
        response = client.get(page)
        expect(response, persona, ok=200)
        if response.status_code == 200:
            assert f'action="{action}"' in response.content.decode()


def test_a_failed_test_says_what_each_medium_answered(operator_client, real_channel, receiver):
    receiver.status = 404
    response = operator_client.post(
        reverse("alerts:channel_test", args=[real_channel.public_id]), follow=True
    )
    [message] = [(m.level_tag, str(m)) for m in response.context["messages"]]
    assert message == (
        "error",
        "Test notification to On call: E-mail to lead@example.com, oncall@example.com: sent; "
        "Webhook: failed (webhook answered HTTP 404).",
    )
    assert "alert-danger" in response.content.decode()


def test_the_channel_page_returns_to_itself_after_a_test(operator_client, channel):
    page = reverse("alerts:channel_edit", args=[channel.public_id])
    response = operator_client.post(
        reverse("alerts:channel_test", args=[channel.public_id]), {"next": page}
    )
    assert response.status_code == 302 and response.url == page


def test_the_test_needs_post_and_the_csrf_token(operator_client, channel):
    url = reverse("alerts:channel_test", args=[channel.public_id])
    assert operator_client.get(url).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    verified_login(strict, operator_client.user)
    assert strict.post(url).status_code == 403
    assert not channel_test_events() and mail.outbox == []


def test_an_unknown_channel_is_a_404(operator_client):
    import uuid

    assert (
        operator_client.post(reverse("alerts:channel_test", args=[uuid.uuid4()])).status_code == 404
    )


# ------------------------------------------------------------------------- the API
API_PERSONAS = ("operator", "onboarding", "auditor", "verifier", "nokey", "norole")


@pytest.fixture
def persona_client(api_client_for, client_for):
    from rest_framework.test import APIClient

    def make(persona: str):
        if persona == "nokey":
            return APIClient()
        if persona == "norole":
            client = APIClient()
            client.force_login(client_for("norole").user)
            return client
        return api_client_for(persona)

    return make


@pytest.mark.parametrize("persona", API_PERSONAS)
def test_the_api_test_is_for_operators(
    persona_client, persona, real_channel, mail_server, receiver
):
    client = persona_client(persona)
    response = client.post(api_path(real_channel))
    if persona == "nokey":
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"
    elif persona != "operator":
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "permission_denied"
    else:
        assert response.status_code == 200, response.content
        assert response.json() == {
            "channel": str(real_channel.public_id),
            "team": "On call",
            "ok": True,
            "message": "E-mail to lead@example.com, oncall@example.com: sent; Webhook: sent",
            "results": [
                {"medium": "email", "ok": True, "error": ""},
                {"medium": "webhook", "ok": True, "error": ""},
            ],
        }
        assert channel_test_events()[0].actor == f"api:{client.api_key.prefix}"
    sent = persona == "operator"
    assert (len(mail_server.messages), len(receiver.requests)) == ((1, 1) if sent else (0, 0))
    assert len(channel_test_events()) == (1 if sent else 0)


def test_a_failed_api_test_answers_200_with_the_errors(api_client_for, real_channel, receiver):
    receiver.status = 503
    response = api_client_for("operator").post(api_path(real_channel))
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is False
    assert body["results"][1] == {
        "medium": "webhook",
        "ok": False,
        "error": "webhook answered HTTP 503",
    }
    raw = response.content.decode()
    assert SECRET not in raw and URL_PASSWORD not in raw and "webhook_url" not in raw


def test_a_signed_in_operator_tests_in_their_name(client_for, channel, receiver):
    client = client_for("operator")
    response = client.post(api_path(channel), content_type="application/json")
    assert response.status_code == 200, response.content
    assert channel_test_events()[0].actor == "operator@example.com"


def test_an_unknown_channel_is_a_404_in_the_api(api_client_for):
    import uuid

    response = api_client_for("operator").post(f"/api/v1/alerts/channels/{uuid.uuid4()}/test/")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert not AlertChannel.objects.exists() and not channel_test_events()
