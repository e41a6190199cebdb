"""No secret ever shows: seed known secrets, exercise the portal, then search everything.

The secrets: every value of every encrypted field in the database (client secrets, the
integration token and its refresh token, webhook secrets, org access and refresh tokens), every
token and secret the emulator ever issued (including ones since replaced), the JWS Webex signed
for the data source, a known token pair pasted by staff, alert channels' webhook secrets and
every API key's plaintext. The surfaces: every GET page and every API GET endpoint (list and
detail) as an operator and as an auditor, the CSV exports, every admin list and change page
as a superuser, the responses to writes, the alert e-mails (locmem mailbox) and webhook
requests (a local receiver), every log record at DEBUG, every audit row (all fields), and
the `str`/`repr` of every model instance. An API key is shown once, in the response that
creates it, and nowhere else.
"""

import logging
import re
from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone

from accounts.tests.helpers import verified_login
from alerts.tests.conftest import Receiver
from core.encryption import EncryptedTextField

from .conftest import CHANNEL_SECRET, SYSTEM, build_world, portal_routes

KNOWN_ACCESS = "SEEDED-ACCESS-TOKEN-f3c1a9d2e8b74c55"
KNOWN_REFRESH = "SEEDED-REFRESH-TOKEN-0b9e7d6c5a4f3e21"
RECEIVER_SECRET = "whsec-receiver-9f8e7d6c5b4a3210"
OUR_APPS = {"tenants", "datasources", "audit", "accounts", "alerts", "operations"}
SECRET_KEY_NAMES = re.compile(r"(token|secret|jws|password)", re.I)


def emulator_secrets(state) -> set[str]:
    """Every string the emulator's state holds under a secret-sounding key."""
    found: set[str] = set()

    def walk(value, key=""):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif (
            isinstance(value, str)
            and SECRET_KEY_NAMES.search(key)
            and "expir" not in key.lower()
            and len(value) >= 16
        ):
            found.add(value)

    walk(state)
    return found


def database_secrets() -> set[str]:
    found = set()
    for model in apps.get_models():
        if not model._meta.managed:
            continue
        fields = [f.name for f in model._meta.fields if isinstance(f, EncryptedTextField)]
        for obj in model.objects.all():
            found |= {getattr(obj, name) for name in fields if len(getattr(obj, name) or "") >= 8}
    return found


def body(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.mark.django_db
def test_no_secret_appears_anywhere(
    caplog, settings, webex_world, client_for, django_user_model, receiver, mailoutbox
):
    caplog.set_level(logging.DEBUG)
    world = build_world(webex_world, settings)
    operator, auditor = client_for("operator"), client_for("auditor")
    seen: list[tuple[str, str]] = []  # (where, text)

    # Writes that handle secrets: webhooks (a webhook secret), a forced refresh (new tokens),
    # a rotation (a new JWS), a pasted known pair that Webex refuses (the refusal must not echo
    # it), a pasted genuine pair (stored), then a refresh after the org removed the app.
    from datasources.services import datasource_rotate
    from tenants.services import org_tokens_refresh
    from webex.client import WebexClient

    settings.PORTAL_PUBLIC_URL = "https://portal.example.com"
    r = operator.post(f"/service-apps/{world.app.public_id}/webhooks/", follow=True)
    seen.append(("register webhooks", body(r)))
    org_tokens_refresh(org_id=world.org.id, force=True, actor=SYSTEM)
    datasource_rotate(ds_id=world.datasource.id, force=True, actor=SYSTEM)
    r = operator.post(
        f"/orgs/{world.org.public_id}/tokens/paste/",
        {
            "access_token": KNOWN_ACCESS,
            "refresh_token": KNOWN_REFRESH,
            "access_expires_at": (timezone.now() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            "refresh_expires_at": (timezone.now() + timedelta(days=60)).strftime("%Y-%m-%dT%H:%M"),
        },
        follow=True,
    )
    assert "Webex does not accept this access token" in body(r)
    seen.append(("paste refused tokens", body(r)))
    genuine = WebexClient(api_base=webex_world.api_base).org_token(
        integration_token=webex_world.integration_token,
        client_id=webex_world.client_id,
        client_secret=webex_world.client_secret,
        target_org_id=webex_world.org_id,
    )
    r = operator.post(
        f"/orgs/{world.org.public_id}/tokens/paste/",
        {"access_token": genuine.access_token, "refresh_token": genuine.refresh_token},
        follow=True,
    )
    assert r.redirect_chain, "the genuine pasted pair was refused"
    seen.append(("paste tokens", body(r)))
    webex_world.control.deauthorize(webex_world.application_id, webex_world.org_id)
    r = operator.post(f"/orgs/{world.org.public_id}/tokens/refresh/", follow=True)
    seen.append(("refresh with a dead token", body(r)))

    # An API key made on its page: its plaintext is in that one response, and nowhere else.
    r = operator.post("/staff/api-keys/new/", {"name": "CI export", "role": "auditor"})
    assert r.status_code == 200 and r["Cache-Control"] == "no-store"
    created_key = re.search(r"byods_\w+_[\w-]{20,}", body(r))[0]
    r = operator.post(
        f"/staff/api-keys/{world.api_key.public_id}/revoke/",
        {"reason": "rotated by the security suite"},
        follow=True,
    )
    seen.append(("revoke an API key", body(r)))

    # An alert channel made on its page (webhook secret), then an alert delivered to it.
    from alerts.models import AlertChannel, Kind
    from alerts.services import alert_deliver

    r = operator.post(
        "/alerts/channels/new/",
        {
            "team": "On call",
            "email_recipients": "oncall@example.com",
            "webhook_url": receiver.url,
            "webhook_secret": RECEIVER_SECRET,
            "kinds": list(Kind.values),
            "enabled": "on",
        },
        follow=True,
    )
    seen.append(("create a channel", body(r)))
    assert AlertChannel.objects.get(team="On call").webhook_secret == RECEIVER_SECRET
    r = operator.post(f"/alerts/channels/{world.channel.public_id}/", {"team": ""})
    seen.append(("channel form with errors", body(r)))
    alert_deliver(alert=world.alert, event="opened", actor=SYSTEM)
    r = operator.post(f"/alerts/{world.alert.public_id}/resolve/", follow=True)
    seen.append(("resolve an incident", body(r)))
    world.alert.refresh_from_db()
    alert_deliver(alert=world.alert, event="resolved", actor=SYSTEM)
    assert receiver.requests and mailoutbox, "no alert was delivered"
    for n, request in enumerate(receiver.requests):
        seen.append((f"webhook {n}", repr(request)))  # headers (the signature) and body
    for n, mail in enumerate(mailoutbox):
        seen.append((f"mail {n}", f"{mail.subject}\n{mail.body}\n{mail.to}\n{mail.extra_headers}"))

    secrets = database_secrets() | emulator_secrets(webex_world.control.state()) | {world.jws}
    secrets |= {world.api_key_plaintext, created_key}  # only their hashes are stored
    secrets |= {KNOWN_ACCESS, KNOWN_REFRESH}  # refused, so never stored: not shown either
    assert genuine.refresh_token in secrets, "the pasted pair was not stored"
    assert {CHANNEL_SECRET, RECEIVER_SECRET} <= secrets, "a channel's secret is not encrypted"
    assert world.app.client_secret in secrets and world.jws
    from tenants.models import ServiceApp

    assert ServiceApp.objects.get().webhook_secret in secrets

    # Every GET page and API endpoint (lists and details), as an operator and (for what they
    # may see) as an auditor; the new pages' objects come from the world.
    api_bodies = 0
    for name, route in portal_routes():
        path = world.path(name, route)
        for who, client in (("operator", operator), ("auditor", auditor)):
            response = client.get(path, HTTP_ACCEPT="application/json, */*")
            if response.status_code == 405:
                break
            api_bodies += name.startswith("api:") and response.status_code == 200
            seen.append((f"GET {path} as {who}", body(response)))
    assert api_bodies >= 15, "the API's GET endpoints were not reached"
    seen.append(("API CSV export", body(operator.get("/api/v1/audit/events/export/"))))
    seen.append(("audit search", body(operator.get("/audit/", {"q": "token"}))))

    # The admin, as a superuser: every registered model's list and first change page.
    from django.contrib import admin

    root = django_user_model.objects.create_superuser("root@example.com", "", "x" * 20)
    verified_login(operator, root)
    seen.append(("admin index", body(operator.get("/admin/"))))
    for model in admin.site._registry:
        meta = model._meta
        listing = operator.get(f"/admin/{meta.app_label}/{meta.model_name}/")
        assert listing.status_code == 200, meta.label
        seen.append((f"admin list {meta.label}", body(listing)))
        first = model.objects.first()
        if first is not None:
            page = operator.get(f"/admin/{meta.app_label}/{meta.model_name}/{first.pk}/change/")
            seen.append((f"admin change {meta.label}", body(page)))

    # Audit rows, all fields; logs; str/repr of every instance.
    from audit.models import AuditEvent

    seen += [(f"audit row {row['id']}", repr(row)) for row in AuditEvent.objects.values()]
    seen.append(("logs", caplog.text))
    seen += [("log args", repr(rec.args)) for rec in caplog.records if rec.args]
    for model in apps.get_models():
        if model._meta.managed and model._meta.app_label in OUR_APPS:
            seen += [(f"str {model.__name__}", f"{obj} {obj!r}") for obj in model.objects.all()]

    assert len(seen) > 60
    leaks = [
        (where, secret[:12] + "...") for where, text in seen for secret in secrets if secret in text
    ]
    assert not leaks, leaks


@pytest.mark.django_db
def test_secrets_are_encrypted_at_rest(settings, webex_world):
    """The database column holds ciphertext, never the token itself."""
    from django.db import connection

    world = build_world(webex_world, settings, drift=False)
    with connection.cursor() as cursor:
        cursor.execute("SELECT client_secret FROM tenants_serviceapp")
        stored = cursor.fetchone()[0]
        cursor.execute("SELECT access_token, refresh_token FROM tenants_orgtoken")
        access, refresh = cursor.fetchone()
    assert world.app.client_secret not in stored
    token = world.org.token
    assert token.access_token not in access and token.refresh_token not in refresh
