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
from audit.services import audit_record, audit_record_failure
from audit.vocabulary import Action

from .. import presentation
from ..models import Alert, AlertChannel, AlertDelivery
from ..presentation import ALERT_RELATED
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
    withheld: bool = False  # the alert is snoozed or silenced: nothing was sent

    @property
    def complete(self) -> bool:
        return not self.failed and not self.pending


class DeliveryFailed(Exception):
    """A webhook or mail server refused or did not answer. The message holds no secret."""


def _mrkdwn(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


VERB = {Event.OPENED: "ALERT", Event.ESCALATED: "ESCALATED", Event.RESOLVED: "RESOLVED"}
STAMP = {
    Event.OPENED: "notified_at",
    Event.ESCALATED: "escalation_notified_at",
    Event.RESOLVED: "resolution_notified_at",
}


def _absolute(path: str) -> str:
    base = settings.PORTAL_PUBLIC_URL.rstrip("/")
    return f"{base}{path}" if base else ""


def _message(alert: Alert, event: str, now: dt.datetime | None = None) -> tuple[str, str, dict]:
    """(subject, plain text, Slack-compatible JSON) for an alert's opening, escalation or
    resolution. The headline, owner, cause and next step are computed now, from the current
    state (alerts.presentation), never the words of the moment the alert opened."""
    now = now or timezone.now()
    shown = presentation.present(alert, now)
    kind = alert.get_kind_display()
    subject = f"[BYODS {VERB[Event(event)]}] {kind}: {alert.subject_name} ({shown.severity})"
    step = shown.next_step
    action = _absolute(step.url) if step.url else ""
    lines = [
        shown.headline,
        f"About: {alert.subject_name}",
        f"Severity: {shown.severity}",
        f"Owner: {shown.owner}",
        f"Cause: {shown.cause.words()}",
        f"Next: {step.text}" + (f" {step.label}: {action}" if action else ""),
        f"Opened: {alert.opened_at:%Y-%m-%d %H:%M} UTC",
    ]
    if event == Event.ESCALATED and alert.escalated_at:
        lines.append(f"Escalated: {alert.escalated_at:%Y-%m-%d %H:%M} UTC")
    if event == Event.RESOLVED and alert.resolved_at:
        lines.append(f"Resolved: {alert.resolved_at:%Y-%m-%d %H:%M} UTC")
    alerts_url = _absolute(reverse("alerts:detail", args=[alert.public_id]))
    if alerts_url:
        lines.append(f"Alert: {alerts_url}")
    text = "\n".join(lines)
    payload = {
        "text": f"{subject}\n{text}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": subject[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": _mrkdwn(shown.headline)}},
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": _mrkdwn(line)} for line in lines[1:]],
            },
        ],
        "byods": {
            "alert_id": str(alert.public_id),
            "kind": alert.kind,
            "event": event,
            "org": alert.org.name if alert.org is not None else None,
            "headline": shown.headline,
            "severity": shown.severity,
            "owner": shown.owner,
            "cause": {
                "error": shown.cause.error,
                "tracking_id": shown.cause.tracking_id,
                "since": shown.cause.since.isoformat() if shown.cause.since else None,
            },
            "next_step": step.text,
            "action_url": action or None,
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
    if event != Event.RESOLVED:
        channels = [c for c in AlertChannel.objects.filter(enabled=True) if alert.kind in c.kinds]
    else:  # a resolution goes where the opening (or the escalation) went
        channels = list(
            AlertChannel.objects.filter(
                enabled=True,
                deliveries__alert=alert,
                deliveries__event__in=(Event.OPENED, Event.ESCALATED),
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
    alert = Alert.objects.select_related(*ALERT_RELATED).get(pk=alert.pk)
    stamp = STAMP[Event(event)]
    report = DeliveryReport()
    if event == Event.RESOLVED and alert.resolved_at is None:
        return report
    if event == Event.ESCALATED and alert.escalated_at is None:
        return report
    if getattr(alert, stamp) is None and _withheld(alert, event):
        # Snoozed or silenced: nobody is told (and the safety net does not queue it again).
        Alert.objects.filter(pk=alert.pk, **{f"{stamp}__isnull": True}).update(
            **{stamp: timezone.now()}
        )
        report.withheld = True
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


def _withheld(alert: Alert, event: str) -> bool:
    """Was the alert snoozed or silenced when this event happened (its resolution) or is it
    now (its opening, its escalation: an escalation has already woken it up)?"""
    if not alert.quiet:
        return False
    if event == Event.RESOLVED:
        when = alert.resolved_at
        return alert.quiet_until is None or (when is not None and alert.quiet_until > when)
    return alert.is_quiet()


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
            org_id=alert.org.public_id if alert.org is not None else None,
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


def alerts_deliver_inline(
    *, opened: list[int], resolved: list[int], actor: Actor, escalated: list[int] | None = None
) -> None:
    """Deliver notices in this process, without a worker: for the liveness alerts, raised
    precisely when no worker (or no scheduler to queue the minute's evaluation) may be there.
    What fails stays unsent and is queued again by the next evaluation."""
    for pks, event in (
        (opened, Event.OPENED),
        (escalated or [], Event.ESCALATED),
        (resolved, Event.RESOLVED),
    ):
        for pk in pks:
            alert_deliver(alert=Alert(pk=pk), event=event, actor=actor)


# ------------------------------------------------------------------------- test notices
@dataclass(frozen=True)
class MediumOutcome:
    """How one medium of a channel took the test notice: `error` is empty when it was sent."""

    medium: str
    ok: bool
    error: str = ""

    def describe(self, channel: AlertChannel) -> str:
        where = (
            f"E-mail to {', '.join(channel.email_recipients)}"
            if self.medium == Medium.EMAIL
            else "Webhook"
        )
        return f"{where}: {'sent' if self.ok else f'failed ({self.error})'}"


@dataclass(frozen=True)
class ChannelTestReport:
    channel: AlertChannel
    outcomes: tuple[MediumOutcome, ...]

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes)

    def describe(self) -> str:
        return "; ".join(o.describe(self.channel) for o in self.outcomes)


def _test_message(channel: AlertChannel, who: str) -> tuple[str, str, dict]:
    """A notice that cannot pass for an alert: labelled TEST in the subject, the text and the
    payload (`byods.event` is "test", and it names no org, no owner and no alert)."""
    subject = f"[BYODS TEST] Test notification for {channel.team}"
    text = "\n".join(
        [
            f"This is a test notification from the BYODS portal, sent by {who}.",
            f"It checks that alerts reach the {channel.team} channel. Nothing needs doing.",
        ]
    )
    payload = {
        "text": f"{subject}\n{text}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": subject[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": _mrkdwn(text)}},
        ],
        "byods": {"event": "test", "team": channel.team, "channel_id": str(channel.public_id)},
    }
    return subject, text, payload


def alertchannel_test(*, channel: AlertChannel, actor: Actor | None = None) -> ChannelTestReport:
    """Send a labelled test notice by each medium the channel has (e-mail, the signed webhook),
    through the same senders as real notices, and record the outcome in the audit trail.

    Works for a disabled channel too (checking one before enabling it is the point). Nothing
    is retried: the person who asked sees the outcome. The network calls happen outside any
    transaction; the audit event names the error of each failed medium, which never holds
    the webhook's secret or URL (see `_send_webhook`, `_send_email`).
    """
    channel = AlertChannel.objects.get(pk=channel.pk)
    actor = actor or Actor.system("alerts.channel_test")
    subject, text, payload = _test_message(channel, actor.label)
    outcomes = []
    for medium, present in (
        (Medium.EMAIL, channel.email_recipients),
        (Medium.WEBHOOK, channel.webhook_url),
    ):
        if not present:
            continue
        try:
            if medium == Medium.EMAIL:
                _send_email(channel, subject, text)
            else:
                _send_webhook(channel, payload)
        except DeliveryFailed as exc:
            outcomes.append(MediumOutcome(medium, ok=False, error=str(exc)[:200]))
        else:
            outcomes.append(MediumOutcome(medium, ok=True))
    report = ChannelTestReport(channel, tuple(outcomes))
    record = audit_record if report.ok else audit_record_failure
    with transaction.atomic():
        record(
            action=Action.ALERTCHANNEL_TESTED,
            summary=f"Test notification to {channel.team}: {report.describe()}",
            actor=actor,
            target_type="alertchannel",
            target_id=channel.public_id,
            target_label=channel.team,
            changes={"results": {o.medium: "sent" if o.ok else "failed" for o in outcomes}},
            error="; ".join(f"{o.medium}: {o.error}" for o in outcomes if not o.ok),
        )
    return report
