"""Receiving Webex `serviceApp` webhooks: signature check, replay guard, hand-off to a task.

The view holds no business rules: it proves the delivery came from Webex (HMAC-SHA1 of the raw
body with the Service App's webhook secret, `X-Spark-Signature`, compared in constant time),
ignores an event id it has already seen, and queues the work.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import uuid
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils.dateparse import parse_datetime

from webex import ids

from .models import ServiceApp, WebhookEvent

logger = logging.getLogger(__name__)
MAX_BODY = 64 * 1024  # a serviceApp envelope is well under 2 KiB


class WebhookRejected(Exception):
    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class AuthorizationEvent:
    app: ServiceApp
    event_id: str
    event: str  # "authorized" | "deauthorized"
    webex_org_id: uuid.UUID
    org_name: str
    authorized_at: str


def _signature_ok(secret: str, body: bytes, signature: str) -> bool:
    expected = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    return hmac.compare_digest(expected, signature.strip().lower())


def _data(envelope: dict) -> dict:
    """The envelope's `data` object; empty when it is missing or not an object."""
    data = envelope.get("data")
    return data if isinstance(data, dict) else {}


def _candidate_apps(envelope: dict) -> list[ServiceApp]:
    """Service Apps the delivery claims to be about (unverified until the signature matches)."""
    data = _data(envelope)
    claimed = {str(v) for v in (data.get("id"), envelope.get("appId")) if v}
    filt = str(envelope.get("filter") or "")
    if filt.startswith("id="):
        claimed.add(filt[3:])
    apps = list(ServiceApp.objects.filter(application_id__in=claimed)) if claimed else []
    return apps or list(ServiceApp.objects.exclude(webhook_secret=""))


def _org_id(envelope: dict) -> uuid.UUID:
    """Where the authorizing org sits is not settled in public sources: accept both places."""
    data = _data(envelope)
    for value in (data.get("authorizerOrgId"), data.get("orgId"), envelope.get("orgId")):
        if value:
            try:
                return ids.org_uuid(str(value))
            except ValueError:
                continue
    raise WebhookRejected(400, "no org id in the delivery (data.authorizerOrgId or orgId)")


def verify_delivery(body: bytes, signature: str | None) -> AuthorizationEvent | None:
    """Check and parse a delivery. Returns None for a replay (already handled)."""
    if len(body) > MAX_BODY:
        raise WebhookRejected(413, "body too large")
    if not signature:
        raise WebhookRejected(403, "missing X-Spark-Signature")
    try:
        envelope = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        envelope = None
    if not isinstance(envelope, dict):
        # Still check the signature first, so an unsigned prober learns nothing.
        raise WebhookRejected(403, "signature does not match")
    app = next(
        (
            a
            for a in _candidate_apps(envelope)
            if a.webhook_secret and _signature_ok(a.webhook_secret, body, signature)
        ),
        None,
    )
    if app is None:
        raise WebhookRejected(403, "signature does not match")
    resource, event = envelope.get("resource"), envelope.get("event")
    if resource != "serviceApp" or event not in ("authorized", "deauthorized"):
        # Signed, so from Webex, but not an event the portal subscribes to: refused, nothing
        # stored or queued; the view logs it with the app and the event id.
        raise WebhookRejected(
            400,
            f"not a serviceApp authorized/deauthorized event ({str(resource)[:40]!r}."
            f"{str(event)[:40]!r}, id {str(envelope.get('id'))[:80]!r}, app {app.name!r}): "
            "ignored",
        )
    event_id = str(envelope.get("id") or "")
    if not event_id:
        raise WebhookRejected(400, "no event id")
    org_uuid = _org_id(envelope)
    data = _data(envelope)
    try:
        with transaction.atomic():
            WebhookEvent.objects.create(
                event_id=event_id,
                service_app=app,
                resource="serviceApp",
                event=envelope["event"],
                webex_org_id=org_uuid,
            )
    except IntegrityError:
        logger.info("webhook replay ignored: event %s", event_id)
        return None
    authorized_at = data.get("authorizationDate") or ""
    return AuthorizationEvent(
        app=app,
        event_id=event_id,
        event=envelope["event"],
        webex_org_id=org_uuid,
        org_name=str(data.get("orgName") or ""),
        authorized_at=authorized_at if parse_datetime(str(authorized_at)) else "",
    )
