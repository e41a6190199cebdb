"""Writes for staff accounts."""

import datetime as dt
import hashlib
import secrets

from django.contrib.auth.models import Group, User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from audit.context import Actor
from audit.services import audit_record
from audit.vocabulary import Action

from .models import ApiKey
from .roles import STAFF_ROLES, Role

API_KEY_PREFIX = "byods_"


def generate_password() -> str:
    """A random password that passes the configured validators (about 128 bits)."""
    return secrets.token_urlsafe(16)


@transaction.atomic
def staff_user_create(
    *,
    email: str,
    role: Role,
    password: str | None = None,
    full_name: str = "",
    actor: Actor | None = None,
) -> tuple[User, str]:
    """Create a staff account with exactly one role; returns the user and its password.

    The e-mail address is the login name. Raises ValidationError naming the field when the
    address is invalid or taken, or the password too weak.
    """
    if role not in STAFF_ROLES:
        raise ValidationError({"role": f"The {role.label} role is for API keys, not staff."})
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationError({"email": f"'{email}' is not a valid e-mail address."}) from exc
    if User.objects.filter(username=email).exists():
        raise ValidationError({"email": f"A staff account for {email} already exists."})
    password = password or generate_password()
    first, _, last = full_name.strip().partition(" ")
    user = User(username=email, email=email, first_name=first, last_name=last)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc
    user.set_password(password)
    # Operators may use the Django admin; other roles work only in the portal.
    user.is_staff = role == Role.OPERATOR
    user.full_clean()
    user.save()
    user.groups.set([Group.objects.get(name=role.value)])
    audit_record(
        action=Action.STAFF_CREATED,
        summary=f"Created {role.label} account {email}",
        actor=actor,
        target_type="user",
        target_id=email,  # users have no public UUID: the login name identifies them
        target_label=email,
        changes={"role": {"before": None, "after": role.value}},
    )
    return user, password


# ------------------------------------------------------------------------- API keys
def apikey_hash(key: str) -> str:
    """The stored form of an API key (see `ApiKey.secret_hash` for why SHA-256 suffices)."""
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def apikey_create(
    *,
    name: str,
    role: Role | str,
    created_by: User | None = None,
    expires_at: dt.datetime | None = None,
    actor: Actor | None = None,
) -> tuple[ApiKey, str]:
    """Create an API key; returns the row and the key itself, which is never available again.

    The key is `byods_<id>_<secret>`: `<id>` (8 random characters) is its public prefix,
    `<secret>` 32 random bytes. Only the SHA-256 of the whole key is stored.
    """
    errors = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = "Name the key after what uses it (e.g. “provisioning pipeline”)."
    if role not in Role.values:
        errors["role"] = f"Choose one of: {', '.join(Role.values)}."
    if expires_at is not None and expires_at <= timezone.now():
        errors["expires_at"] = "The expiry must be in the future (or leave it empty)."
    if errors:
        raise ValidationError(errors)
    prefix = f"{API_KEY_PREFIX}{secrets.token_hex(4)}"
    key = f"{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey(
        name=name,
        prefix=prefix,
        secret_hash=apikey_hash(key),
        role=Role(role),
        created_by=created_by,
        expires_at=expires_at,
    )
    api_key.full_clean()
    api_key.save()
    audit_record(
        action=Action.APIKEY_CREATED,
        summary=f"Created API key {prefix} “{name}” ({Role(role).label})",
        actor=actor,
        target_type="apikey",
        target_id=api_key.public_id,
        target_label=prefix,
        changes={
            "role": {"before": None, "after": api_key.role},
            "expires_at": {"before": None, "after": expires_at},
        },
    )
    return api_key, key


@transaction.atomic
def apikey_revoke(
    *,
    api_key: ApiKey,
    reason: str,
    revoked_by: User | None = None,
    actor: Actor | None = None,
) -> ApiKey:
    """Revoke a key for good: it is refused from the next request on. Revoking twice is a no-op."""
    reason = (reason or "").strip()
    if len(reason) < 5:
        raise ValidationError({"reason": "Give a reason (at least 5 characters)."})
    api_key = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if api_key.revoked_at is not None:
        return api_key
    api_key.revoked_at = timezone.now()
    api_key.revoked_by = revoked_by
    api_key.full_clean()
    api_key.save(update_fields=["revoked_at", "revoked_by"])
    audit_record(
        action=Action.APIKEY_REVOKED,
        summary=f"Revoked API key {api_key.prefix} “{api_key.name}”",
        actor=actor,
        target_type="apikey",
        target_id=api_key.public_id,
        target_label=api_key.prefix,
        reason=reason,
        changes={"revoked_at": {"before": None, "after": api_key.revoked_at}},
    )
    return api_key


@transaction.atomic
def staff_sign_in_lock(*, username: str, client_ip: str, actor: Actor | None = None) -> None:
    """Record that sign-ins were locked after repeated failures (the lock itself is the
    throttle's cache entry, set before this is called; see accounts/throttle.py).

    Like refused sign-ins, only a plausible login name is kept: people sometimes type a
    password into that field.
    """
    from django.conf import settings

    shown = username if "@" in username else "(not an e-mail address)"
    minutes = settings.LOGIN_THROTTLE_MINUTES
    audit_record(
        action=Action.STAFF_SIGN_IN_LOCKED,
        summary=(
            f"Sign-in as {shown} from {client_ip or '?'} locked for {minutes} minutes "
            "after repeated failures"
        ),
        actor=actor or Actor.system("sign-in-throttle"),
        target_type="user",
        target_label=shown,
    )
