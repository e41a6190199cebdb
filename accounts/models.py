import secrets
import time
import uuid
from base64 import b32encode
from urllib.parse import quote, urlencode

from django.conf import settings
from django.db import models
from django.utils import timezone
from django_otp.models import Device, ThrottlingMixin, TimestampMixin
from django_otp.oath import TOTP

from core.encryption import EncryptedTextField

from .roles import CAPABILITIES, Role


def _new_totp_key() -> str:
    return secrets.token_hex(20)


class Capability(models.Model):
    """Holds the portal's role permissions; it has no table and no rows.

    Django attaches permissions to a model, and these belong to no single model, so they hang
    here. `accounts.roles` maps roles to them.
    """

    class Meta:
        managed = False
        default_permissions = ()
        permissions = list(CAPABILITIES.items())

    def __str__(self) -> str:
        return "portal capability"


class ApiKey(models.Model):
    """A machine's credential for the REST API, acting with one role.

    The secret is shown once, at creation, and only its SHA-256 digest is stored. The visible
    `prefix` (`byods_` + a short random id) names the key in lists, logs and the audit trail and
    is how a presented key finds its row; the rest of the secret is never stored or logged.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=32, unique=True, editable=False)
    # SHA-256 of the whole key, hex. A fast hash is right here, unlike for passwords: the secret
    # part carries 256 random bits, so no dictionary or brute-force attack on a leaked digest
    # is feasible, and a slow hash would only make every API request slower.
    secret_hash = models.CharField(max_length=64, editable=False)
    role = models.CharField(max_length=20, choices=Role.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_usable(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class StaffIdentity(models.Model):
    """Links a staff account to the person's identity at the single sign-on provider.

    The provider names a person by (issuer, subject), which never changes even when their
    e-mail address does; the e-mail is only used to find an existing account at the first
    single sign-on, after which this link decides.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_identity"
    )
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    last_sso_login_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="staffidentity_unique_sub")
        ]
        verbose_name_plural = "staff identities"

    def __str__(self) -> str:
        return f"{self.user} at {self.issuer}"


class StaffProfile(models.Model):
    """What the portal keeps about a staff account beyond Django's user: a public id for URLs
    (users have only integer keys) and who invited them. Made on first need."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile"
    )
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, related_name="+", null=True, blank=True
    )

    def __str__(self) -> str:
        return f"staff profile of {self.user_id}"


class Invite(models.Model):
    """A one-time link to a new staff account. Only the SHA-256 of the link's token is kept
    (like API keys: 256 random bits need no slow hash); it works once, until `expires_at`."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField()
    role = models.CharField(max_length=20, choices=Role.choices)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, related_name="+", null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, related_name="+", null=True, blank=True
    )

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"invitation for {self.email}"

    def is_usable(self, now=None) -> bool:
        return self.accepted_at is None and self.expires_at > (now or timezone.now())


class AuthenticatorApp(TimestampMixin, ThrottlingMixin, Device):
    """A person's TOTP authenticator app (the second factor of password accounts).

    django-otp's own TOTP device keeps its secret in a plain column; this one keeps it in an
    `EncryptedTextField`, like every other secret of the portal, and re-sealed with them by
    `rotate_encryption_keys`. The counting follows RFC 6238 through django-otp's `TOTP`: 30-s
    steps, 6 digits, one step of tolerance either way, and a code at or before the last
    accepted step is refused (no replay).
    """

    key = EncryptedTextField(default=_new_totp_key)  # hex, 20 random bytes
    step = models.PositiveSmallIntegerField(default=30)
    t0 = models.BigIntegerField(default=0)
    digits = models.PositiveSmallIntegerField(default=6)
    tolerance = models.PositiveSmallIntegerField(default=1)
    drift = models.SmallIntegerField(default=0)
    last_t = models.BigIntegerField(default=-1)

    class Meta(Device.Meta):
        verbose_name = "authenticator app"

    @property
    def bin_key(self) -> bytes:
        return bytes.fromhex(self.key)

    def get_throttle_factor(self) -> int:
        return 0  # wrong codes count in accounts/throttle.py, which locks and audits

    def verify_token(self, token) -> bool:
        try:
            code = int(token)
        except (TypeError, ValueError):
            return False
        totp = TOTP(self.bin_key, self.step, self.t0, self.digits, self.drift)
        totp.time = time.time()
        if not totp.verify(code, self.tolerance, self.last_t + 1):
            return False
        self.last_t, self.drift = totp.t(), totp.drift
        self.set_last_used_timestamp(commit=False)
        self.save()
        return True

    @property
    def config_url(self) -> str:
        """The otpauth:// URI an authenticator app scans (Key Uri Format)."""
        issuer = settings.OTP_TOTP_ISSUER.replace(":", "")
        label = f"{issuer}:{self.user.get_username()}"
        query = urlencode(
            {
                "secret": b32encode(self.bin_key).decode(),
                "algorithm": "SHA1",
                "digits": self.digits,
                "period": self.step,
                "issuer": issuer,
            },
            quote_via=quote,
        )
        return f"otpauth://totp/{quote(label)}?{query}"
