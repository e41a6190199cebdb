"""The authorization webhook: signature, replay, both org id places, and the work it starts."""

import hashlib
import hmac
import json
import uuid

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from tenants.models import CustomerOrg, WebhookEvent

URL = "/webhooks/webex/"


def envelope(app, org_id, event="authorized", event_id=None, org_in="both"):
    body = {
        "id": event_id or str(uuid.uuid4()),
        "name": "BYODS",
        "resource": "serviceApp",
        "event": event,
        "filter": f"id={app.application_id}",
        "appId": app.application_id,
        "status": "active",
        "data": {"id": app.application_id, "authorizationDate": "2026-11-23T10:00:00.000Z"},
    }
    if org_in in ("both", "top"):
        from webex import ids

        body["orgId"] = ids.org_webex_id(org_id)
    if org_in in ("both", "data"):
        body["data"]["authorizerOrgId"] = org_id
    return json.dumps(body).encode()


def sign(secret, raw):
    return hmac.new(secret.encode(), raw, hashlib.sha1).hexdigest()


@pytest.fixture
def eager(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from byods_portal.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def post(client, raw, signature):
    headers = {"HTTP_X_SPARK_SIGNATURE": signature} if signature is not None else {}
    return client.post(URL, raw, content_type="application/json", **headers)


@pytest.mark.django_db
def test_a_missing_or_wrong_signature_is_refused(client, portal_app, webex_world):
    raw = envelope(portal_app, webex_world.org_id)
    assert post(client, raw, None).status_code == 403
    assert post(client, raw, "0" * 40).status_code == 403
    wrong_key = sign("not-the-secret", raw)
    assert post(client, raw, wrong_key).status_code == 403
    tampered = raw.replace(b"authorized", b"deauthorized")
    assert post(client, tampered, sign(portal_app.webhook_secret, raw)).status_code == 403
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("org_in", ["top", "data", "both"])
def test_authorized_onboards_the_org_with_tokens(client, portal_app, webex_world, eager, org_in):
    raw = envelope(portal_app, webex_world.org_id, org_in=org_in)
    response = post(client, raw, sign(portal_app.webhook_secret, raw))
    assert response.status_code == 202
    org = CustomerOrg.objects.get(webex_org_id=webex_world.org_id)
    assert org.status == CustomerOrg.Status.ACTIVE and org.token.has_tokens
    assert AuditEvent.objects.filter(
        action="org.tokens_fetched", actor="system:webhook:serviceApp.authorized"
    ).exists()


@pytest.mark.django_db(transaction=True)
def test_a_replayed_event_is_ignored(client, portal_app, webex_world, eager, emulator):
    raw = envelope(portal_app, webex_world.org_id, event_id="evt-1")
    assert post(client, raw, sign(portal_app.webhook_secret, raw)).status_code == 202
    calls = len(emulator.requests_log(path="/token"))
    again = post(client, raw, sign(portal_app.webhook_secret, raw))
    assert again.status_code == 200 and again.json() == {"status": "duplicate ignored"}
    assert len(emulator.requests_log(path="/token")) == calls


@pytest.mark.django_db(transaction=True)
def test_deauthorized_pauses_the_org(client, portal_app, webex_world, eager):
    raw = envelope(portal_app, webex_world.org_id)
    post(client, raw, sign(portal_app.webhook_secret, raw))
    raw = envelope(portal_app, webex_world.org_id, event="deauthorized")
    assert post(client, raw, sign(portal_app.webhook_secret, raw)).status_code == 202
    org = CustomerOrg.objects.get(webex_org_id=webex_world.org_id)
    assert org.status == CustomerOrg.Status.DEAUTHORIZED
    assert org.token.next_refresh_at is None


@pytest.mark.django_db
def test_an_oversized_or_foreign_event_is_refused(client, portal_app, webex_world):
    big = b"{" + b" " * 70000 + b"}"
    assert post(client, big, sign(portal_app.webhook_secret, big)).status_code == 413
    other = json.dumps(
        {"id": "x", "resource": "messages", "event": "created", "appId": portal_app.application_id}
    ).encode()
    assert post(client, other, sign(portal_app.webhook_secret, other)).status_code == 400


@pytest.mark.django_db
def test_the_webhook_refuses_get(client):
    assert client.get(reverse("webex_webhook")).status_code in (302, 405)
