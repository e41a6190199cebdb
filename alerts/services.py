"""Alerts: derive them from the portal's state, acknowledge them, and deliver them to people.

`alerts_evaluate` is the only writer of derived alerts (kinds other than incident): it
computes the set of current conditions, opens an episode for each new one, touches the ones
that persist and resolves the ones that cleared. Delivery is at most once per (episode,
channel, medium, event): `AlertDelivery` rows are claimed with a lease before the network call
and marked sent after it, so a retried task never sends twice what was already sent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import EmailValidator
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from audit.context import Actor
from audit.services import audit_record, audit_record_failure
from audit.vocabulary import Action
from datasources.models import DataSource, DriftFinding
from datasources.selectors import health_conditions
from tenants.models import CustomerOrg
from tenants.selectors import offboardings_stalled, orgs_needing_attention

from .models import Alert, AlertChannel, AlertDelivery, Kind
from .wording import deadline_words

Event = AlertDelivery.Event
Medium = AlertDelivery.Medium
DERIVED = tuple(k for k in Kind.values if k != Kind.INCIDENT)
WEBHOOK_TIMEOUT = (3.05, 10.0)  # connect, read (seconds)
DELIVERY_LEASE = dt.timedelta(seconds=60)
SIGNATURE_HEADER = "X-BYODS-Signature"
TIMESTAMP_HEADER = "X-BYODS-Request-Timestamp"
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


# ------------------------------------------------------------------------- evaluation
@dataclass(frozen=True)
class Condition:
    kind: str
    org_id: int
    datasource_id: int | None
    summary: str


@dataclass
class EvaluationReport:
    opened: list[int] = field(default_factory=list)
    touched: int = 0
    resolved: list[int] = field(default_factory=list)


def _conditions(now: dt.datetime) -> dict[str, Condition]:
    """dedup key -> condition, for everything that is wrong right now."""
    found: dict[str, Condition] = {}
    for org in orgs_needing_attention():
        token = getattr(org, "token", None)
        if org.status == CustomerOrg.Status.REAUTHORIZATION_REQUIRED:
            expires = token.access_expires_at if token else None
            found[f"{Kind.ORG_REAUTHORIZATION}:org:{org.pk}"] = Condition(
                Kind.ORG_REAUTHORIZATION,
                org.pk,
                None,
                f"{org.name} must reauthorize the Service App; {deadline_words(expires, now)}",
            )
        elif token is not None:
            found[f"{Kind.TOKEN_AT_RISK}:org:{org.pk}"] = Condition(
                Kind.TOKEN_AT_RISK,
                org.pk,
                None,
                f"Refreshing the access token of {org.name} failed "
                f"{token.consecutive_failures} time(s) in a row; "
                f"{deadline_words(token.access_expires_at, now)}",
            )
    health = health_conditions(now)
    columns = ("pk", "org_id", "org__name", "url", "token_expires_at", "consecutive_failures")
    alive = DataSource.objects.filter(deleted_at__isnull=True)
    for pk, org_id, org_name, url, expires, _ in alive.filter(
        health["at_risk"] | health["expired"]
    ).values_list(*columns):
        found[f"{Kind.TOKEN_AT_RISK}:ds:{pk}"] = Condition(
            Kind.TOKEN_AT_RISK,
            org_id,
            pk,
            f"{deadline_words(expires, now).capitalize()} for {org_name} – {url}",
        )
    for pk, org_id, org_name, url, expires, failures in alive.filter(health["failing"]).values_list(
        *columns
    ):
        found[f"{Kind.ROTATION_FAILING}:ds:{pk}"] = Condition(
            Kind.ROTATION_FAILING,
            org_id,
            pk,
            f"Rotating {org_name} – {url} failed {failures} time(s) in a row; "
            f"{deadline_words(expires, now)}",
        )
    for org, left in offboardings_stalled(now):
        found[f"{Kind.OFFBOARDING_STALLED}:org:{org.pk}"] = Condition(
            Kind.OFFBOARDING_STALLED, org.pk, None, f"Offboarding {org.name} is stuck: {left}"
        )
    drift = (
        DriftFinding.objects.filter(resolved_at__isnull=True)
        .values_list("org_id", "org__name")
        .order_by("org_id")
    )
    counts: dict[int, tuple[str, int]] = {}
    for org_id, org_name in drift:
        counts[org_id] = (org_name, counts.get(org_id, (org_name, 0))[1] + 1)
    for org_id, (org_name, n) in counts.items():
        found[f"{Kind.DRIFT_FOUND}:org:{org_id}"] = Condition(
            Kind.DRIFT_FOUND,
            org_id,
            None,
            f"{n} open drift finding(s) for {org_name}: the portal and Webex disagree",
        )
    return found


def _audit(alert: Alert, action: Action, summary: str, actor: Actor | None, **kw) -> None:
    audit_record(
        action=action,
        summary=summary,
        actor=actor,
        target_type="alert",
        target_id=alert.public_id,
        target_label=alert.get_kind_display(),
        org_id=alert.org.public_id,
        **kw,
    )


@transaction.atomic
def alerts_evaluate(*, now: dt.datetime | None = None, actor: Actor | None = None):
    """Open, touch and resolve derived alerts so they match the current conditions.

    Returns an EvaluationReport with the ids of opened and resolved alerts (the caller queues
    their delivery). Incidents are raised and resolved by people, never here.
    """
    now = now or timezone.now()
    actor = actor or Actor.system("alerts.evaluate")
    current = _conditions(now)
    open_alerts = {
        a.dedup_key: a
        for a in Alert.objects.select_for_update()
        .select_related("org")
        .filter(resolved_at__isnull=True, kind__in=DERIVED)
    }
    report = EvaluationReport()
    owners = dict(
        CustomerOrg.objects.filter(pk__in={c.org_id for c in current.values()}).values_list(
            "pk", "owner_id"
        )
    )
    for key, cond in current.items():
        if key in open_alerts:
            continue
        alert = Alert(
            kind=cond.kind,
            dedup_key=key,
            org_id=cond.org_id,
            datasource_id=cond.datasource_id,
            owner_id=owners.get(cond.org_id),
            summary=cond.summary[:500],
            opened_at=now,
            last_seen_at=now,
        )
        alert.full_clean()
        alert.save()
        _audit(alert, Action.ALERT_OPENED, f"Alert opened: {alert.summary}", actor)
        report.opened.append(alert.pk)
    persisting = [a.pk for key, a in open_alerts.items() if key in current]
    if persisting:
        report.touched = Alert.objects.filter(pk__in=persisting).update(last_seen_at=now)
    for key, alert in open_alerts.items():
        if key in current:
            continue
        alert.resolved_at = now
        alert.save(update_fields=["resolved_at"])
        _audit(alert, Action.ALERT_RESOLVED, f"Alert cleared: {alert.summary}", actor)
        report.resolved.append(alert.pk)
    return report


# ------------------------------------------------------------------------- people's actions
@transaction.atomic
def alert_acknowledge(*, alert: Alert, user, actor: Actor | None = None) -> Alert:
    """Record that `user` (or, with `user=None`, the API key named by `actor`) is on it.
    Acknowledging twice keeps the first acknowledgement."""
    if user is None and actor is None:
        raise ValueError("alert_acknowledge needs the user or the actor who acknowledges")
    alert = Alert.objects.select_for_update().select_related("org").get(pk=alert.pk)
    if alert.resolved_at is not None:
        raise ValidationError({"alert": "This alert is already resolved; nothing to acknowledge."})
    if alert.acknowledged_at is not None:
        return alert
    actor = actor or Actor.user(user)
    who = user.get_username() if user is not None else actor.label
    alert.acknowledged_by = user
    alert.acknowledged_by_label = who[:150]
    alert.acknowledged_at = timezone.now()
    alert.full_clean()
    alert.save(update_fields=["acknowledged_by", "acknowledged_by_label", "acknowledged_at"])
    _audit(alert, Action.ALERT_ACKNOWLEDGED, f"{who} acknowledged: {alert.summary}", actor)
    return alert


@transaction.atomic
def alert_incident_raise(
    *,
    org: CustomerOrg,
    summary: str,
    user,
    datasource: DataSource | None = None,
    actor: Actor | None = None,
) -> Alert:
    """An operator's manual alert. Each incident is its own episode until resolved by hand."""
    summary = (summary or "").strip()
    if len(summary) < 5:
        raise ValidationError({"summary": "Describe the incident in at least 5 characters."})
    if datasource is not None and datasource.org_id != org.pk:
        raise ValidationError({"datasource": "The data source must belong to the chosen org."})
    alert = Alert(
        kind=Kind.INCIDENT,
        org=org,
        datasource=datasource,
        owner_id=org.owner_id,
        summary=summary[:500],
    )
    alert.dedup_key = f"{Kind.INCIDENT}:{alert.public_id}"
    alert.full_clean()
    alert.save()
    _audit(
        alert,
        Action.INCIDENT_RAISED,
        f"Incident raised for {org.name}: {alert.summary}",
        actor or Actor.user(user),
    )
    return alert


@transaction.atomic
def alert_resolve(*, alert: Alert, user, actor: Actor | None = None) -> Alert:
    """Close an incident by hand (derived alerts clear themselves when their condition does)."""
    alert = Alert.objects.select_for_update().select_related("org").get(pk=alert.pk)
    if alert.kind != Kind.INCIDENT:
        raise ValidationError(
            {"alert": "Only incidents are resolved by hand; this alert clears on its own."}
        )
    if alert.resolved_at is not None:
        return alert
    alert.resolved_at = timezone.now()
    alert.save(update_fields=["resolved_at"])
    actor = actor or Actor.user(user)
    who = user.get_username() if user is not None else actor.label
    _audit(alert, Action.ALERT_RESOLVED, f"{who} resolved the incident: {alert.summary}", actor)
    return alert


# ------------------------------------------------------------------------- channels
def _clean_channel(
    *, team: str, email_recipients: list[str], webhook_url: str, kinds: list[str]
) -> tuple[str, list[str], str, list[str]]:
    errors: dict[str, str] = {}
    team = (team or "").strip()
    if not team:
        errors["team"] = "Name the team that receives these alerts."
    emails = sorted({e.strip().lower() for e in email_recipients if e.strip()})
    validate = EmailValidator()
    for email in emails:
        try:
            validate(email)
        except ValidationError:
            errors["email_recipients"] = f"{email!r} is not an e-mail address."
            break
    webhook_url = (webhook_url or "").strip()
    if webhook_url:
        parts = urlsplit(webhook_url)
        local = parts.scheme == "http" and parts.hostname in LOOPBACK
        if not parts.hostname or (parts.scheme != "https" and not local):
            # Alerts name customers and owners: they travel over TLS, except to a relay on
            # this very machine (loopback), which never leaves it.
            errors["webhook_url"] = (
                "The webhook URL must start with https:// (plain http only to localhost)."
            )
    if not emails and not webhook_url:
        errors["email_recipients"] = "Give at least one e-mail address or a webhook URL."
    kinds = [k for k in Kind.values if k in set(kinds)]
    if not kinds:
        errors["kinds"] = "Choose at least one kind of alert."
    if errors:
        raise ValidationError(errors)
    return team, emails, webhook_url, kinds


def _channel_view(channel: AlertChannel) -> dict:
    """What the audit trail keeps of a channel: never the signing secret."""
    return {
        "team": channel.team,
        "email_recipients": channel.email_recipients,
        "webhook_url": channel.webhook_url,
        "kinds": channel.kinds,
        "enabled": channel.enabled,
    }


@transaction.atomic
def alertchannel_create(
    *,
    team: str,
    email_recipients: list[str],
    webhook_url: str = "",
    webhook_secret: str = "",
    kinds: list[str],
    enabled: bool = True,
    actor: Actor | None = None,
) -> AlertChannel:
    team, emails, url, kinds = _clean_channel(
        team=team, email_recipients=email_recipients, webhook_url=webhook_url, kinds=kinds
    )
    if url and len(webhook_secret or "") < 16:
        raise ValidationError(
            {"webhook_secret": "A webhook needs a signing secret of at least 16 characters."}
        )
    channel = AlertChannel(
        team=team,
        email_recipients=emails,
        webhook_url=url,
        webhook_secret=webhook_secret if url else "",
        kinds=kinds,
        enabled=enabled,
    )
    channel.full_clean()
    channel.save()
    audit_record(
        action=Action.ALERTCHANNEL_CREATED,
        summary=f"Alert channel {team} added",
        actor=actor,
        target_type="alertchannel",
        target_id=channel.public_id,
        target_label=team,
        changes={"after": _channel_view(channel)},
    )
    return channel


@transaction.atomic
def alertchannel_update(
    *,
    channel: AlertChannel,
    team: str,
    email_recipients: list[str],
    webhook_url: str = "",
    webhook_secret: str = "",
    kinds: list[str],
    enabled: bool = True,
    actor: Actor | None = None,
) -> AlertChannel:
    """Change a channel. An empty `webhook_secret` keeps the stored one (it is never shown)."""
    channel = AlertChannel.objects.select_for_update().get(pk=channel.pk)
    before = _channel_view(channel)
    team, emails, url, kinds = _clean_channel(
        team=team, email_recipients=email_recipients, webhook_url=webhook_url, kinds=kinds
    )
    secret = webhook_secret or channel.webhook_secret
    if url and len(secret or "") < 16:
        raise ValidationError(
            {"webhook_secret": "A webhook needs a signing secret of at least 16 characters."}
        )
    channel.team, channel.email_recipients, channel.webhook_url = team, emails, url
    channel.webhook_secret = secret if url else ""
    channel.kinds, channel.enabled = kinds, enabled
    channel.full_clean()
    channel.save()
    audit_record(
        action=Action.ALERTCHANNEL_UPDATED,
        summary=f"Alert channel {team} changed"
        + (" (new signing secret)" if webhook_secret else ""),
        actor=actor,
        target_type="alertchannel",
        target_id=channel.public_id,
        target_label=team,
        changes={"before": before, "after": _channel_view(channel)},
    )
    return channel


@transaction.atomic
def alertchannel_delete(*, channel: AlertChannel, actor: Actor | None = None) -> None:
    view = _channel_view(channel)
    public_id = channel.public_id
    AlertChannel.objects.filter(pk=channel.pk).delete()
    audit_record(
        action=Action.ALERTCHANNEL_DELETED,
        summary=f"Alert channel {view['team']} removed",
        actor=actor,
        target_type="alertchannel",
        target_id=public_id,
        target_label=view["team"],
        changes={"before": view},
    )


# ------------------------------------------------------------------------- delivery
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


def _send_email(channel: AlertChannel, subject: str, text: str) -> None:
    try:
        send_mail(subject, text, settings.DEFAULT_FROM_EMAIL, channel.email_recipients)
    except OSError as exc:  # smtplib errors are OSErrors
        raise DeliveryFailed(f"mail server refused: {type(exc).__name__}") from None


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
        now = timezone.now()
        claimed = (
            AlertDelivery.objects.filter(pk=delivery.pk, sent_at__isnull=True)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .update(claimed_until=now + DELIVERY_LEASE, attempts=F("attempts") + 1)
        )
        if not claimed:
            report.pending += 1
            continue
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
            continue
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
    if report.complete:
        Alert.objects.filter(pk=alert.pk, **{f"{stamp}__isnull": True}).update(
            **{stamp: timezone.now()}
        )
    return report
