"""Delivering an episode's opening and resolution to the channels that take its kind, at most
once per (episode, channel, medium, event): rows are claimed with a lease before the network
call and marked sent after it."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import smtplib
import time
from dataclasses import dataclass

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from audit.context import Actor
from audit.services import audit_record_failure
from audit.vocabulary import Action

from ..models import Alert, AlertChannel, AlertDelivery
from ._common import _audit

Event = AlertDelivery.Event
Medium = AlertDelivery.Medium
WEBHOOK_TIMEOUT = (3.05, 10.0)  # connect, read (seconds)
DELIVERY_LEASE = dt.timedelta(seconds=60)
SIGNATURE_HEADER = "X-BYODS-Signature"
TIMESTAMP_HEADER = "X-BYODS-Request-Timestamp"


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    pending: int = 0  # claimed by another worker right now

    @property
    def complete(self) -> bool:
        return not self.failed and not self.pending


class DeliveryFailed(Exception):
    """A webhook or mail server refused or did not answer. The message holds no secret."""


def _mrkdwn(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _message(alert: Alert, event: str) -> tuple[str, str, dict]:
    """(subject, plain text, Slack-compatible JSON) for an alert's opening or resolution."""
    owner = alert.owner.get_username() if alert.owner else "nobody assigned"
    kind = alert.get_kind_display()
    verb = "RESOLVED" if event == Event.RESOLVED else "ALERT"
    subject = f"[BYODS {verb}] {kind}: {alert.org.name}"
    lines = [
        alert.summary,
        f"Org: {alert.org.name}",
        f"Owner: {owner}",
        f"Opened: {alert.opened_at:%Y-%m-%d %H:%M} UTC",
    ]
    if event == Event.RESOLVED and alert.resolved_at:
        lines.append(f"Resolved: {alert.resolved_at:%Y-%m-%d %H:%M} UTC")
    base = settings.PORTAL_PUBLIC_URL.rstrip("/")
    if base:
        lines.append(f"Alerts: {base}{reverse('alerts:list')}")
    text = "\n".join(lines)
    payload = {
        "text": f"{subject}\n{text}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": subject[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": _mrkdwn(alert.summary)}},
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": _mrkdwn(line)} for line in lines[1:]],
            },
        ],
        "byods": {
            "alert_id": str(alert.public_id),
            "kind": alert.kind,
            "event": event,
            "org": alert.org.name,
            "owner": owner,
        },
    }
    return subject, text, payload


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """`v1=` + hex HMAC-SHA256 over `v1:<timestamp>:<body>`, keyed by the channel's secret.

    Receivers recompute it and reject old timestamps, which defeats replays (the Slack scheme).
    """
    mac = hmac.new(secret.encode(), b"v1:" + timestamp.encode() + b":" + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def _send_webhook(channel: AlertChannel, payload: dict) -> None:
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = str(int(time.time()))
    try:
        response = requests.post(
            channel.webhook_url,
            data=body,
            headers={
                "Content-Type": "application/json",
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: webhook_signature(channel.webhook_secret, timestamp, body),
            },
            timeout=WEBHOOK_TIMEOUT,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        raise DeliveryFailed(f"webhook unreachable: {type(exc).__name__}") from None
    if not 200 <= response.status_code < 300:
        raise DeliveryFailed(f"webhook answered HTTP {response.status_code}")


def _smtp_codes(exc: smtplib.SMTPException) -> str:
    """The SMTP reply codes of a refusal (never its text, which may quote what we sent)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = sorted({code for code, _ in exc.recipients.values()})
    elif isinstance(exc, smtplib.SMTPResponseException):
        codes = [exc.smtp_code]
    else:
        codes = []
    return f" ({', '.join(str(c) for c in codes)})" if codes else ""


def _send_email(channel: AlertChannel, subject: str, text: str) -> None:
    # EMAIL_TIMEOUT bounds every connect and reply, so a dead server fails here, not hangs.
    try:
        send_mail(subject, text, settings.DEFAULT_FROM_EMAIL, channel.email_recipients)
    except smtplib.SMTPException as exc:  # the server answered, with a refusal
        raise DeliveryFailed(
            f"mail server refused: {type(exc).__name__}{_smtp_codes(exc)}"
        ) from None
    except OSError as exc:  # no answer: refused connection, timeout, TLS failure
        raise DeliveryFailed(f"mail server unreachable: {type(exc).__name__}") from None


def _plan(alert: Alert, event: str) -> None:
    """Create the delivery rows of this event once; later calls add nothing."""
    if event == Event.OPENED:
        channels = [c for c in AlertChannel.objects.filter(enabled=True) if alert.kind in c.kinds]
    else:  # a resolution goes where the opening went
        channels = list(
            AlertChannel.objects.filter(
                enabled=True,
                deliveries__alert=alert,
                deliveries__event=Event.OPENED,
                deliveries__sent_at__isnull=False,
            ).distinct()
        )
    rows = []
    for channel in channels:
        if channel.email_recipients:
            rows.append(
                AlertDelivery(alert=alert, channel=channel, event=event, medium=Medium.EMAIL)
            )
        if channel.webhook_url:
            rows.append(
                AlertDelivery(alert=alert, channel=channel, event=event, medium=Medium.WEBHOOK)
            )
    AlertDelivery.objects.bulk_create(rows, ignore_conflicts=True)


def alert_deliver(*, alert: Alert, event: str, actor: Actor | None = None) -> DeliveryReport:
    """Send an episode's opening or resolution to every channel that takes its kind, once.

    Safe to call again (the task retries failures): rows already sent are skipped, rows
    another worker holds are left to it. Network calls happen outside any transaction.
    """
    if event not in Event.values:
        raise ValidationError({"event": f"event must be one of {', '.join(Event.values)}"})
    actor = actor or Actor.system("alerts.deliver")
    alert = Alert.objects.select_related("org", "owner").get(pk=alert.pk)
    stamp = "notified_at" if event == Event.OPENED else "resolution_notified_at"
    report = DeliveryReport()
    if event == Event.RESOLVED and alert.resolved_at is None:
        return report
    if getattr(alert, stamp) is None:
        with transaction.atomic():
            _plan(alert, event)
    subject, text, payload = _message(alert, event)
    unsent = AlertDelivery.objects.select_related("channel").filter(
        alert=alert, event=event, sent_at__isnull=True
    )
    for delivery in unsent:
        _deliver_one(delivery, alert, event, (subject, text, payload), report, actor)
    if report.complete:
        Alert.objects.filter(pk=alert.pk, **{f"{stamp}__isnull": True}).update(
            **{stamp: timezone.now()}
        )
    return report


def _deliver_one(
    delivery: AlertDelivery,
    alert: Alert,
    event: str,
    message: tuple[str, str, dict],
    report: DeliveryReport,
    actor: Actor,
) -> None:
    """Claim one delivery row (another worker may hold it), send it, record the outcome."""
    subject, text, payload = message
    now = timezone.now()
    claimed = (
        AlertDelivery.objects.filter(pk=delivery.pk, sent_at__isnull=True)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_until=now + DELIVERY_LEASE, attempts=F("attempts") + 1)
    )
    if not claimed:
        report.pending += 1
        return
    channel = delivery.channel
    try:
        if delivery.medium == Medium.WEBHOOK:
            _send_webhook(channel, payload)
        else:
            _send_email(channel, subject, text)
    except DeliveryFailed as exc:
        report.failed += 1
        AlertDelivery.objects.filter(pk=delivery.pk).update(
            claimed_until=None, last_error=str(exc)[:500]
        )
        audit_record_failure(
            action=Action.ALERT_NOTIFIED,
            summary=f"Sending the {event} notice to {channel.team} by {delivery.medium} "
            "failed; it will be retried",
            actor=actor,
            target_type="alert",
            target_id=alert.public_id,
            target_label=alert.get_kind_display(),
            org_id=alert.org.public_id,
            error=str(exc),
        )
        return
    with transaction.atomic():
        AlertDelivery.objects.filter(pk=delivery.pk).update(
            sent_at=timezone.now(), claimed_until=None, last_error=""
        )
        _audit(
            alert,
            Action.ALERT_NOTIFIED,
            f"Sent the {event} notice of '{alert.summary[:200]}' to {channel.team} "
            f"by {delivery.medium}",
            actor,
        )
    report.sent += 1
