"""Data sources registered at Webex for customer orgs, and the state of their JWS rotation.

The JWS Webex returns is a bearer credential and is not stored: the portal keeps what it needs
to rotate (nonces, expiry) and to verify presented tokens (URL, schema, nonces), nothing more.
"""

import uuid

from django.db import models
from django.utils import timezone

from core import policy as rules
from tenants.models import CustomerOrg


class DataSource(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        DISABLED = "disabled", "Disabled"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    org = models.ForeignKey(CustomerOrg, on_delete=models.PROTECT, related_name="datasources")
    webex_id = models.CharField(max_length=200, unique=True)
    schema_id = models.CharField(max_length=64)
    url = models.CharField(max_length=2000)
    audience = models.CharField(max_length=200)
    subject = models.CharField(max_length=200)
    token_lifetime_minutes = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    error_message = models.CharField(max_length=256, blank=True)
    # Rotation state. `pending_nonce` is written before a rotation call and reused by retries,
    # so a lost response never leads to a second, different rotation.
    nonce = models.CharField(max_length=100)
    pending_nonce = models.CharField(max_length=100, blank=True)
    previous_nonce = models.CharField(max_length=100, blank=True)
    previous_token_expires_at = models.DateTimeField(null=True, blank=True)
    token_expires_at = models.DateTimeField(null=True, blank=True)
    next_rotation_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    # Single flight at Webex: a PUT (rotation or change) for this data source may be in flight
    # until then. Set under the row lock before the call, cleared with its outcome; a lease
    # that runs out means the caller died, and only then is its pending nonce re-sent.
    inflight_until = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_tracking_id = models.CharField(max_length=200, blank=True)
    last_rotated_at = models.DateTimeField(null=True, blank=True)
    at_risk_alerted_at = models.DateTimeField(null=True, blank=True)
    missing_at_webex_since = models.DateTimeField(null=True, blank=True)
    # Clock skew: Webex's last tokenExpiryTime was beyond now + lifetime (+ a margin) or already
    # past. `token_expires_at` then holds the bounded value the schedule uses; these keep
    # what Webex said, since when, and the sentence the page shows. Cleared by a sane expiry.
    expiry_skew_since = models.DateTimeField(null=True, blank=True)
    expiry_reported_at = models.DateTimeField(null=True, blank=True)
    expiry_skew_detail = models.CharField(max_length=300, blank=True)
    # Scheduled maintenance: disable at a time with a message, enable again later.
    maintenance_disable_at = models.DateTimeField(null=True, blank=True)
    maintenance_enable_at = models.DateTimeField(null=True, blank=True)
    maintenance_message = models.CharField(max_length=256, blank=True)
    # Deleted at Webex: the row stays (with its nonce history, which proves no nonce was ever
    # reused) but leaves every list and the rotation engine.
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["org__name", "url"]
        indexes = [
            # The rotation sweep: "active data sources whose next rotation time has passed".
            # Partial, so its size and cost follow the active rows' deadlines, not the table.
            models.Index(
                fields=["next_rotation_at"],
                name="ds_due_idx",
                condition=models.Q(status="active", next_rotation_at__isnull=False),
            ),
            models.Index(fields=["org", "status"], name="ds_org_status_idx"),
            # The dashboard's soonest deadlines: "ORDER BY token_expires_at, id LIMIT 8" walks
            # this in order and stops at the eighth live row. On token_expires_at alone, every
            # row tied on the first expiry had to be read and sorted by id first (700 rows at a
            # million data sources whose expiries share a minute).
            models.Index(fields=["token_expires_at", "id"], name="ds_expiry_idx"),
            # JWS verification (datasources/jws/): the data source a presented token names,
            # "WHERE schema_id = %s AND url = %s" joined to the org by its Webex id.
            models.Index(fields=["schema_id", "url"], name="ds_jws_lookup_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(token_lifetime_minutes__gte=1, token_lifetime_minutes__lte=1440),
                name="ds_lifetime_1_to_1440",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="disabled") | ~models.Q(error_message=""),
                name="ds_disabled_has_message",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.url} ({self.org})"

    @property
    def label(self) -> str:
        return f"{self.org.name} – {self.url}"

    @property
    def not_flowing_reason(self) -> str:
        """What reconciliation found changed at Webex behind the portal's back that stops data
        flowing ("disabled at Webex", "URL changed at Webex"), or "" when nothing does.

        Lists annotate `webex_drift` (the open finding's details, `datasource_list` does) so
        this costs no query per row; otherwise it is read once per instance."""
        if "webex_drift" not in self.__dict__:
            self.__dict__["webex_drift"] = (
                DriftFinding.objects.filter(
                    datasource_id=self.pk, resolved_at__isnull=True, kind=DriftFinding.Kind.DIFFERS
                )
                .values_list("details", flat=True)
                .first()
            )
        details = self.__dict__["webex_drift"]
        return stops_flow(details) if self.status == self.Status.ACTIVE else ""

    def health(self, now=None) -> str:
        """healthy | due | at_risk | failing | paused | disabled | expired | missing |
        not_flowing (changed or disabled at Webex behind the portal's back)."""
        now = now or timezone.now()
        if self.status == self.Status.DISABLED:
            return "disabled"
        if self.missing_at_webex_since:
            return "missing"
        if self.not_flowing_reason:
            return "not_flowing"
        if self.org.status != CustomerOrg.Status.ACTIVE:
            return "paused"
        if self.token_expires_at and self.token_expires_at <= now:
            return "expired"
        if rules.is_at_risk(
            expires_at=self.token_expires_at, lifetime_minutes=self.token_lifetime_minutes, now=now
        ):
            return "at_risk"
        if self.consecutive_failures:
            return "failing"
        if self.next_rotation_at and self.next_rotation_at <= now:
            return "due"
        return "healthy"

    def remaining_fraction(self, now) -> float:
        if not self.token_expires_at:
            return 0.0
        total = self.token_lifetime_minutes * 60
        return max(0.0, (self.token_expires_at - now).total_seconds() / total)


# Fields that, changed at Webex, send the data elsewhere or make the portal refuse it (a
# different lifetime or error message changes nothing for the data), with their names in words.
FLOW_FIELDS = {"url": "URL", "schema_id": "schema", "audience": "audience", "subject": "subject"}


def stops_flow(details: dict | None) -> str:
    """A drift finding's differences (`{field: {"portal": .., "webex": ..}}`) that stop data
    flowing, in words: "disabled at Webex", "URL changed at Webex", or "" when none does."""
    if not details:
        return ""
    parts = []
    status = details.get("status") or {}
    if isinstance(status, dict) and status.get("webex") == DataSource.Status.DISABLED:
        parts.append("disabled at Webex")
    changed = [label for field, label in FLOW_FIELDS.items() if field in details]
    if changed:
        parts.append(f"{' and '.join(changed)} changed at Webex")
    return "; ".join(parts)


class NonceRecord(models.Model):
    """Every nonce ever sent for a data source, with its outcome. The unique constraint makes
    reuse impossible, and the table proves it."""

    class Outcome(models.TextChoices):
        PENDING = "pending", "Pending"
        OK = "ok", "Accepted"
        FAILED = "failed", "Failed"

    datasource = models.ForeignKey(DataSource, on_delete=models.CASCADE, related_name="nonces")
    nonce = models.CharField(max_length=100, unique=True)
    purpose = models.CharField(max_length=20)  # register | rotate | update | disable | enable
    created_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.PENDING)
    token_expires_at = models.DateTimeField(null=True, blank=True)
    tracking_id = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.purpose} nonce for data source #{self.datasource_id}: {self.outcome}"


class DriftFinding(models.Model):
    """A difference between the portal and Webex found by reconciliation."""

    class Kind(models.TextChoices):
        UNKNOWN_HERE = "unknown_here", "At Webex but unknown here"
        GONE_AT_WEBEX = "gone_at_webex", "Known here but gone at Webex"
        DIFFERS = "differs", "Fields or status differ"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    org = models.ForeignKey(CustomerOrg, on_delete=models.CASCADE, related_name="drift")
    datasource = models.ForeignKey(DataSource, null=True, blank=True, on_delete=models.CASCADE)
    webex_id = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    details = models.JSONField(default=dict)  # field -> {"portal": x, "webex": y}
    found_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-found_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["org", "webex_id", "kind"],
                condition=models.Q(resolved_at__isnull=True),
                name="drift_one_open_finding",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.webex_id}"
