"""Customer orgs (the portal's tenants), the Service Apps they authorize, and their tokens.

Secrets (client secret, integration and org tokens, webhook secret) live only in
`EncryptedTextField`s; every model's `__str__` and the admin show names and expiry times only.
"""

import datetime as dt
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.encryption import EncryptedTextField
from webex import ids


class Region(models.TextChoices):
    US = "us", "US (webexapis.com)"
    EU = "eu", "EU"
    INTEGRATION = "integration", "Integration (BTS)"


class ServiceApp(models.Model):
    """The partner's Service App at Webex: one per product or per region."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    client_id = models.CharField(max_length=200, unique=True)
    client_secret = EncryptedTextField()
    # base64 of ciscospark://us/APPLICATION/<clientId>; stored to match webhook filters quickly
    application_id = models.CharField(max_length=400, unique=True, editable=False)
    valid_domains = models.JSONField(default=list)
    schema_ids = models.JSONField(default=list)
    region = models.CharField(max_length=20, choices=Region.choices, default=Region.US)
    # The partner's own integration (or personal) token with spark:applications_token, used to
    # fetch org tokens; it has its own expiry and refresh.
    integration_token = EncryptedTextField(blank=True)
    integration_token_expires_at = models.DateTimeField(null=True, blank=True)
    integration_refresh_token = EncryptedTextField(blank=True)
    integration_refresh_expires_at = models.DateTimeField(null=True, blank=True)
    integration_client_id = models.CharField(max_length=200, blank=True)
    integration_client_secret = EncryptedTextField(blank=True)
    # Refreshing the integration token: failures in a row since the last success, and the last
    # one's reason (Webex's message and trackingId, never a token). An alert while non-zero.
    integration_refresh_failures = models.PositiveIntegerField(default=0)
    integration_refresh_error = models.CharField(max_length=500, blank=True)
    integration_refresh_failed_at = models.DateTimeField(null=True, blank=True)
    webhook_secret = EncryptedTextField(blank=True)
    webhook_ids = models.JSONField(default=list, blank=True)  # ids at Webex, for cleanup
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        self.application_id = ids.application_id(self.client_id)
        super().save(*args, **kwargs)


class CustomerOrg(models.Model):
    """A customer organization that authorized (or is about to authorize) a Service App."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        AUTHORIZED = "authorized", "Authorized"
        ACTIVE = "active", "Active"
        REAUTHORIZATION_REQUIRED = "reauthorization_required", "Needs reauthorization"
        DEAUTHORIZED = "deauthorized", "Deauthorized"
        OFFBOARDING = "offboarding", "Offboarding"
        OFFBOARDED = "offboarded", "Offboarded"

    class OffboardMode(models.TextChoices):
        DISABLE = "disable", "Disable data sources (keep them at Webex)"
        DELETE = "delete", "Delete data sources at Webex"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    service_app = models.ForeignKey(ServiceApp, on_delete=models.PROTECT, related_name="orgs")
    webex_org_id = models.UUIDField()
    name = models.CharField(max_length=200)
    region = models.CharField(max_length=20, choices=Region.choices, default=Region.US)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_orgs",
        help_text="Customer-success owner, named in alerts.",
    )
    status = models.CharField(max_length=30, choices=Status.choices, default=Status.PENDING)
    status_changed_at = models.DateTimeField(default=timezone.now)
    # The authorization snapshot: what this org allowed when its admin authorized the app.
    # Data source validation uses these, never the app's current lists.
    authorized_at = models.DateTimeField(null=True, blank=True)
    authorized_by = models.CharField(max_length=200, blank=True)
    authorized_domains = models.JSONField(default=list, blank=True)
    authorized_schema_ids = models.JSONField(default=list, blank=True)
    offboard_mode = models.CharField(max_length=10, choices=OffboardMode.choices, blank=True)
    offboard_reason = models.TextField(blank=True)
    # total, done, failed, step; failures (what is left, with Webex's reasons), attempts,
    # last_attempt_at and next_attempt_at (ISO 8601, when the offboarding sweep runs it again)
    offboard_progress = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["service_app", "webex_org_id"], name="org_unique_per_service_app"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "name"], name="org_status_idx"),
            # The org list and the data source list (ORDER BY org name ... LIMIT 50): walked
            # in order, so a page costs the same with 100 orgs as with 10,000.
            models.Index(fields=["name", "id"], name="org_name_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def offboard_next_attempt_at(self) -> dt.datetime | None:
        """When the offboarding sweep runs this offboarding again (None: not scheduled)."""
        value = (self.offboard_progress or {}).get("next_attempt_at")
        return dt.datetime.fromisoformat(value) if value else None

    @property
    def webex_org_b64(self) -> str:
        """The org's base64 `ciscospark://us/ORGANIZATION/<uuid>` id."""
        return ids.org_webex_id(self.webex_org_id)

    @property
    def app_moved_on(self) -> dict[str, list[str]]:
        """Domains and schemas the app has gained since this org's authorization snapshot:
        the org's admin must reauthorize before data sources may use them. Empty for an org
        without a snapshot to compare: one not yet authorized (pending, authorized), one whose
        tokens were pasted without Webex listing what it authorized, one the app is no longer
        in force for (deauthorized, offboarding, offboarded)."""
        in_force = {self.Status.ACTIVE, self.Status.REAUTHORIZATION_REQUIRED}
        snapshot = self.authorized_domains or self.authorized_schema_ids
        if self.status not in in_force or self.authorized_at is None or not snapshot:
            return {"domains": [], "schema_ids": []}
        app = self.service_app
        return {
            "domains": sorted(set(app.valid_domains) - set(self.authorized_domains)),
            "schema_ids": sorted(set(app.schema_ids) - set(self.authorized_schema_ids)),
        }


class OrgToken(models.Model):
    """The org's access and refresh token for its Service App. Values are encrypted."""

    org = models.OneToOneField(CustomerOrg, on_delete=models.CASCADE, related_name="token")
    access_token = EncryptedTextField(blank=True)
    access_expires_at = models.DateTimeField(null=True, blank=True)
    refresh_token = EncryptedTextField(blank=True)
    refresh_expires_at = models.DateTimeField(null=True, blank=True)
    obtained_at = models.DateTimeField(null=True, blank=True)
    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    next_refresh_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)  # refresh sweep lease
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_tracking_id = models.CharField(max_length=200, blank=True)
    destroyed_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            # The refresh sweep: "tokens due for refresh", newest deadline first. Only live
            # tokens have a next_refresh_at, so the partial index holds just those.
            models.Index(
                fields=["next_refresh_at"],
                name="orgtoken_due_idx",
                condition=models.Q(next_refresh_at__isnull=False),
            ),
            # /metrics: "the first access token to lapse" (byods_org_token_soonest_expiry).
            models.Index(fields=["access_expires_at"], name="orgtoken_expiry_idx"),
        ]

    def __str__(self) -> str:
        return (
            f"tokens of {self.org} (access expires {self.access_expires_at:%Y-%m-%d %H:%M})"
            if self.access_expires_at
            else f"tokens of {self.org}"
        )

    @property
    def has_tokens(self) -> bool:
        return bool(self.access_token) and self.destroyed_at is None


class WebhookEvent(models.Model):
    """Webhook deliveries received, by Webex event id: a replay is recognised and ignored."""

    event_id = models.CharField(max_length=200, unique=True)
    service_app = models.ForeignKey(ServiceApp, on_delete=models.CASCADE)
    resource = models.CharField(max_length=40)
    event = models.CharField(max_length=40)
    webex_org_id = models.UUIDField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.resource}.{self.event} {self.event_id}"
