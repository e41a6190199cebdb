"""Writes for staff accounts."""

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from django.contrib.auth.models import Group, User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from audit.context import Actor
from audit.models import AuditEvent
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


# ------------------------------------------------------------------------- single sign-on
@dataclass(frozen=True)
class SsoSignIn:
    """What `staff_sso_sign_in` decided: the user to sign in, or why not (shown to them)."""

    user: User | None
    refusal: str = ""


@transaction.atomic
def staff_sso_sign_in(
    *,
    issuer: str,
    subject: str,
    email: str,
    full_name: str,
    groups: list[str],
    role: Role | None,
    actor: Actor | None = None,
) -> SsoSignIn:
    """Bring the staff account of the person the IdP vouched for in step with the IdP, or
    refuse them; either way every change and the refusal are audited (and committed: a
    refusal is an answer, not an error).

    The account is found by its link (issuer, subject), else by e-mail (an existing password
    account is then linked), else created with an unusable password. Its e-mail and name follow
    the claims; its role is `role`, the strongest the IdP groups map to: `None` removes any role
    it had and refuses the sign-in. `StaffIdentity.last_sso_login_at` is set on success.
    """
    from django.contrib.auth.models import Group

    from .models import StaffIdentity

    groups_text = ", ".join(groups[:20]) or "none"
    identity = (
        StaffIdentity.objects.select_for_update()
        .select_related("user")
        .filter(issuer=issuer, subject=subject)
        .first()
    )
    user = identity.user if identity else None
    if user is None and email:
        actor = actor or Actor(AuditEvent.ActorType.USER, f"anonymous ({email})")
        user = User.objects.select_for_update().filter(username=email).first()
        if user is not None and StaffIdentity.objects.filter(user=user).exists():
            # The address is taken by an account linked to another IdP identity: a recycled
            # address must not inherit someone else's account.
            return _sso_refuse(
                issuer=issuer,
                subject=subject,
                email=email,
                groups_text=groups_text,
                refusal=(
                    f"The portal account for {email} is linked to another single sign-on "
                    "identity. Ask an operator to check the account."
                ),
                actor=actor,
            )
    shown = email or (user.get_username() if user else f"subject {subject[:64]}")
    actor = actor or (
        Actor.user(user) if user else Actor(AuditEvent.ActorType.USER, f"anonymous ({shown})")
    )
    if user is None and not email:
        return _sso_refuse(
            issuer=issuer,
            subject=subject,
            email=shown,
            groups_text=groups_text,
            refusal="The identity provider sent no verified e-mail address for you.",
            actor=actor,
        )
    if user is not None and not user.is_active:
        return _sso_refuse(
            issuer=issuer,
            subject=subject,
            email=shown,
            groups_text=groups_text,
            refusal="Your portal account is deactivated. Ask an operator to reactivate it.",
            actor=actor,
        )
    if role is None:
        if user is not None:
            _sso_set_role(user=user, role=None, issuer=issuer, groups_text=groups_text)
        return _sso_refuse(
            issuer=issuer,
            subject=subject,
            email=shown,
            groups_text=groups_text,
            refusal="None of your groups at the identity provider gives a role in the portal.",
            actor=actor,
        )

    now = timezone.now()
    first, _, last = full_name.strip().partition(" ")
    if user is None:
        user = User(username=email, email=email, first_name=first[:150], last_name=last[:150])
        user.set_unusable_password()  # signs in only through the IdP
        user.is_staff = role == Role.OPERATOR
        user.full_clean()
        user.save()
        user.groups.set([Group.objects.get(name=role.value)])
        audit_record(
            action=Action.STAFF_CREATED,
            summary=f"Created {role.label} account {email} at its first single sign-on",
            actor=Actor.user(user),
            target_type="user",
            target_id=email,
            target_label=email,
            changes={"role": {"before": None, "after": role.value}},
        )
    else:
        changes = {}
        if email and email != user.username:
            if User.objects.filter(username=email).exclude(pk=user.pk).exists():
                return _sso_refuse(
                    issuer=issuer,
                    subject=subject,
                    email=email,
                    groups_text=groups_text,
                    refusal=(
                        f"Your e-mail address changed to {email}, which another portal "
                        "account uses. Ask an operator to check the accounts."
                    ),
                    actor=actor,
                )
            changes["email"] = {"before": user.username, "after": email}
            user.username = user.email = email
        for field, value in (("first_name", first[:150]), ("last_name", last[:150])):
            if full_name.strip() and getattr(user, field) != value:
                changes[field] = {"before": getattr(user, field), "after": value}
                setattr(user, field, value)
        if changes:
            user.full_clean()
            user.save()
            audit_record(
                action=Action.STAFF_SSO_UPDATED,
                summary=f"Updated {user.username} from the identity provider's claims",
                actor=Actor.user(user),
                target_type="user",
                target_id=user.username,
                target_label=user.username,
                changes=changes,
            )
        _sso_set_role(user=user, role=role, issuer=issuer, groups_text=groups_text)
    if identity is None:
        identity = StaffIdentity(user=user, issuer=issuer, subject=subject)
        audit_record(
            action=Action.STAFF_SSO_LINKED,
            summary=f"Linked {user.username} to its single sign-on identity at {issuer}",
            actor=Actor.user(user),
            target_type="user",
            target_id=user.username,
            target_label=user.username,
            changes={"sso_subject": {"before": None, "after": subject}},
        )
    identity.last_sso_login_at = now
    identity.full_clean()
    identity.save()
    return SsoSignIn(user=user)


def _sso_set_role(*, user: User, role: Role | None, issuer: str, groups_text: str) -> None:
    """Make `role` the account's only role (None: no role), audited when it changes."""
    from django.contrib.auth.models import Group

    staff = [r.value for r in STAFF_ROLES]
    before = sorted(user.groups.filter(name__in=staff).values_list("name", flat=True))
    after = [role.value] if role else []
    if before == after:
        return
    user.groups.remove(*Group.objects.filter(name__in=staff))
    if role is not None:
        user.groups.add(Group.objects.get(name=role.value))
    if user.is_staff != (role == Role.OPERATOR) and not user.is_superuser:
        user.is_staff = role == Role.OPERATOR
        user.save(update_fields=["is_staff"])
    label = role.label if role else "no role"
    audit_record(
        action=Action.STAFF_ROLE_CHANGED,
        summary=f"{user.username} now has {label}, following the identity provider",
        actor=Actor.system("sso"),
        target_type="user",
        target_id=user.username,
        target_label=user.username,
        reason=f"Single sign-on: the groups at {issuer} ({groups_text}) map to {label}.",
        changes={
            "role": {"before": ",".join(before) or None, "after": role.value if role else None}
        },
    )


def _sso_refuse(
    *, issuer: str, subject: str, email: str, groups_text: str, refusal: str, actor: Actor
) -> SsoSignIn:
    audit_record(
        action=Action.STAFF_SSO_REFUSED,
        summary=f"Refused single sign-on as {email}: {refusal}",
        actor=actor,
        target_type="user",
        target_id=email if "@" in email else "",
        target_label=email,
        outcome=AuditEvent.Outcome.FAILED,
        error=f"{refusal} (issuer {issuer}, subject {subject[:64]}, groups: {groups_text})",
    )
    return SsoSignIn(user=None, refusal=refusal)


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
