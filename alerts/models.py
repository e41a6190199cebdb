"""Alerts (one row per episode of a condition) and the channels that deliver them to people.

An episode opens when `alerts_evaluate` first sees a condition, is touched while it persists,
and is resolved when it clears; the next occurrence is a new row. A partial unique constraint
keeps at most one open episode per dedup key, so two evaluations racing cannot open two.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.encryption import EncryptedTextField
from datasources.models import DataSource
from tenants.models import CustomerOrg, ServiceApp


class Kind(models.TextChoices):
    TOKEN_AT_RISK = "token_at_risk", "Token at risk"
    ROTATION_FAILING = "rotation_failing", "Rotation failing"
    ORG_REAUTHORIZATION = "org_reauthorization", "Org needs reauthorization"
    DRIFT_FOUND = "drift_found", "Drift found"
    OFFBOARDING_STALLED = "offboarding_stalled", "Offboarding stalled"
    # Webex reported a JWS expiry beyond now + lifetime (or already past): clocks disagree.
    CLOCK_SKEW = "clock_skew", "Clock skew suspected"
    INCIDENT = "incident", "Incident"
    # The portal's own machinery (no org): a Service App's integration token, the scheduler,
    # the workers.
    INTEGRATION_TOKEN_FAILING = "integration_token_failing", "Integration token refresh failing"
    SCHEDULER_SILENT = "scheduler_silent", "Scheduler silent"
    NO_WORKER = "no_worker", "No live worker"


class Severity(models.TextChoices):
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


# Higher is worse: an episode whose condition moves up a rank escalates (and notifies again).
SEVERITY_RANK = {Severity.WARNING: 1, Severity.CRITICAL: 2}

# A kind's severity when it opens, unless the evaluation says otherwise: the deadline decides
# for tokens (at risk: warning; lapsed: critical), see `alerts.services.evaluation`.
SEVERITY = {
    Kind.TOKEN_AT_RISK: Severity.WARNING,
    Kind.ROTATION_FAILING: Severity.WARNING,
    Kind.ORG_REAUTHORIZATION: Severity.WARNING,
    Kind.DRIFT_FOUND: Severity.WARNING,
    Kind.OFFBOARDING_STALLED: Severity.WARNING,
    Kind.CLOCK_SKEW: Severity.WARNING,
    Kind.INCIDENT: Severity.CRITICAL,
    Kind.INTEGRATION_TOKEN_FAILING: Severity.WARNING,
    Kind.SCHEDULER_SILENT: Severity.CRITICAL,
    Kind.NO_WORKER: Severity.CRITICAL,
}


class Quiet(models.TextChoices):
    """An operator's "not now": the alert still shows (greyed) but notifies nobody until the
    end time (a snooze), or until the end time or its resolution (a silence). Either ends
    early when the alert escalates."""

    SNOOZED = "snoozed", "Snoozed"
    SILENCED = "silenced", "Silenced"


class Alert(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=30, choices=Kind.choices)
    # kind + org (+ data source): what makes two observations the same condition.
    dedup_key = models.CharField(max_length=200)
    # What the alert is about: an org (most kinds), a Service App (its integration token), or
    # neither (the portal's scheduler and workers).
    org = models.ForeignKey(
        CustomerOrg, null=True, blank=True, on_delete=models.CASCADE, related_name="alerts"
    )
    service_app = models.ForeignKey(
        ServiceApp, null=True, blank=True, on_delete=models.CASCADE, related_name="alerts"
    )
    datasource = models.ForeignKey(
        DataSource, null=True, blank=True, on_delete=models.CASCADE, related_name="alerts"
    )
    # The org's customer-success owner when the episode opened (named in every notification).
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_alerts",
    )
    # A short title for history and search ("JWS at risk: Globex – https://..."): what staff
    # read is the headline, computed from the current state (alerts.presentation).
    summary = models.CharField(max_length=500)
    # Follows the deadline (at risk: warning; lapsed: critical); rises are escalations.
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    escalated_at = models.DateTimeField(null=True, blank=True)
    escalation_notified_at = models.DateTimeField(null=True, blank=True)
    # Snoozed or silenced: `quiet_until` null with SILENCED means "until resolved".
    quiet = models.CharField(max_length=10, choices=Quiet.choices, blank=True)
    quiet_until = models.DateTimeField(null=True, blank=True)
    quiet_reason = models.CharField(max_length=500, blank=True)
    quiet_by_label = models.CharField(max_length=150, blank=True)
    quiet_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="acknowledged_alerts",
    )
    # Who acknowledged, as the audit trail names them: a username, or `api:byods_<id>` when an
    # API key did (a key has no user row); kept when the user is later deleted.
    acknowledged_by_label = models.CharField(max_length=150, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    resolution_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["dedup_key"],
                condition=models.Q(resolved_at__isnull=True),
                name="alert_one_open_episode",
            ),
        ]
        indexes = [
            # The alerts list and the dashboard: "open alerts, newest first" (keyset on id).
            models.Index(
                fields=["-opened_at", "-id"],
                name="alert_open_idx",
                condition=models.Q(resolved_at__isnull=True),
            ),
            models.Index(fields=["-opened_at", "-id"], name="alert_opened_idx"),
        ]

    def __str__(self) -> str:
        state = "open" if self.is_open else "resolved"
        return f"{self.get_kind_display()}: {self.subject_name} ({state})"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    @property
    def subject_name(self) -> str:
        """Whom the alert is about, in words: the org, the Service App, or the portal itself."""
        if self.org is not None:
            return self.org.name
        if self.service_app is not None:
            return f"Service App {self.service_app.name}"
        return "the portal"

    def is_quiet(self, now=None) -> bool:
        """Snoozed or silenced right now: shown greyed, notifies nobody."""
        if not self.quiet or self.resolved_at is not None:
            return False
        return self.quiet_until is None or self.quiet_until > (now or timezone.now())


class AlertChannel(models.Model):
    """Where a team wants alerts: e-mail addresses and/or a Slack-compatible webhook."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    team = models.CharField(max_length=100, unique=True)
    email_recipients = models.JSONField(default=list, blank=True)  # list of addresses
    webhook_url = models.URLField(max_length=500, blank=True)
    # HMAC key for the X-BYODS-Signature header; encrypted at rest, never shown again.
    webhook_secret = EncryptedTextField(blank=True)
    kinds = models.JSONField(default=list)  # Kind values this channel receives
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["team"]

    def __str__(self) -> str:
        return self.team


class AlertDelivery(models.Model):
    """One notification (an episode's opening, escalation or resolution) to one channel by one
    medium.

    The unique constraint and `sent_at` are what make delivery at-most-once per episode: a
    retried task sends only rows that are still unsent, and claims each with a lease first.
    """

    class Event(models.TextChoices):
        OPENED = "opened", "Opened"
        ESCALATED = "escalated", "Escalated"
        RESOLVED = "resolved", "Resolved"

    class Medium(models.TextChoices):
        EMAIL = "email", "E-mail"
        WEBHOOK = "webhook", "Webhook"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.ForeignKey(AlertChannel, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=10, choices=Event.choices)
    medium = models.CharField(max_length=10, choices=Medium.choices)
    sent_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["alert", "channel", "event", "medium"], name="alert_delivery_once"
            ),
        ]

    def __str__(self) -> str:
        state = "sent" if self.sent_at else f"unsent after {self.attempts} attempts"
        return f"{self.event} {self.medium} to {self.channel}: {state}"
