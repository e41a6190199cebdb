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
from core.errors import PortalError
from core.words import counted

from .models import ApiKey, Invite, StaffProfile
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


# ------------------------------------------------------------------------- second factor
RECOVERY_CODES = 10


def _totp_devices(user: User):
    from .models import AuthenticatorApp

    return AuthenticatorApp.objects.filter(user=user)


@transaction.atomic
def mfa_enrol_begin(*, user: User):
    """Start enrolling an authenticator app: a new, unconfirmed TOTP device (any earlier
    unconfirmed one is dropped). Nothing counts until `mfa_enrol_confirm`, so this is not
    audited; the secret is shown to the user once, on the enrolment page."""
    from .models import AuthenticatorApp

    _totp_devices(user).filter(confirmed=False).delete()
    return AuthenticatorApp.objects.create(user=user, name="Authenticator app", confirmed=False)


def mfa_enrol_confirm(*, user: User, token: str, actor: Actor | None = None) -> list[str]:
    """Confirm the pending TOTP device with a code from the app; returns the new one-time
    recovery codes (shown once, never again). Wrong codes count towards the code lock."""
    from . import throttle

    name = user.get_username()
    if throttle.code_is_locked(name):
        raise ValidationError({"token": "Too many wrong codes: wait, or ask an operator."})
    codes = _mfa_confirm(user, _digits(token), actor)
    if codes is None:
        if throttle.note_code_failure(name):
            staff_sign_in_lock(username=name, client_ip="", actor=actor or Actor.user(user))
        raise ValidationError({"token": "That code does not match: enter the current 6 digits."})
    throttle.note_code_success(name)
    return codes


@transaction.atomic
def _mfa_confirm(user: User, token: str, actor: Actor | None) -> list[str] | None:
    from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

    name = user.get_username()
    device = _totp_devices(user).filter(confirmed=False).select_for_update().last()
    if device is None:
        raise ValidationError({"token": "Start the enrolment again: no set-up is pending."})
    if not device.verify_token(token):
        return None
    _totp_devices(user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    StaticDevice.objects.filter(user=user).delete()
    static = StaticDevice.objects.create(user=user, name="Recovery codes", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(
        [StaticToken(device=static, token=recovery_digest(c)) for c in codes]
    )
    audit_record(
        action=Action.STAFF_MFA_ENROLLED,
        summary=f"{name} enrolled an authenticator app and {RECOVERY_CODES} recovery codes",
        actor=actor or Actor.user(user),
        target_type="user",
        target_id=name,
        target_label=name,
    )
    return codes


def recovery_digest(code: str) -> str:
    """How a recovery code is stored: a keyed digest (HMAC-SHA-256 under SECRET_KEY, cut to
    the 16 characters django-otp's token column holds), never the code itself, so a copy of
    the table does not sign anyone in. Changing SECRET_KEY voids the codes (a reset issues new
    ones)."""
    import hmac

    from django.conf import settings

    key = settings.SECRET_KEY.encode()
    return hmac.new(key, code.encode(), hashlib.sha256).hexdigest()[:16]


def _digits(token: str) -> str:
    return "".join((token or "").split()).replace("-", "").lower()


def mfa_verify(*, user: User, token: str, actor: Actor | None = None):
    """Check a second-factor code (the app's 6 digits, or a recovery code, which then is used
    up); returns the device that accepted it. Wrong codes count per account and lock code entry
    like wrong passwords lock sign-in (accounts/throttle.py); the lock is recorded in its own
    transaction, as the refusal changes nothing else."""
    from . import throttle

    name = user.get_username()
    if throttle.code_is_locked(name):
        raise ValidationError(
            {"token": "Too many wrong codes: code entry is paused. Wait, or ask an operator."}
        )
    device = _mfa_match(user, _digits(token), actor)
    if device is not None:
        throttle.note_code_success(name)
        return device
    if throttle.note_code_failure(name):
        staff_sign_in_lock(username=name, client_ip="", actor=actor or Actor.user(user))
    raise ValidationError({"token": "That code is not right (or was already used)."})


@transaction.atomic
def _mfa_match(user: User, token: str, actor: Actor | None):
    from django_otp.plugins.otp_static.models import StaticDevice

    for device in _totp_devices(user).filter(confirmed=True).select_for_update():
        if token.isdigit() and device.verify_token(token):
            return device
    for static in StaticDevice.objects.filter(user=user, confirmed=True).select_for_update():
        if token and static.verify_token(recovery_digest(token)):
            left = static.token_set.count()
            name = user.get_username()
            audit_record(
                action=Action.STAFF_SIGNED_IN_RECOVERY_CODE,
                summary=f"{name} signed in with a recovery code ({left} left)",
                actor=actor or Actor.user(user),
                target_type="user",
                target_id=name,
                target_label=name,
            )
            return static
    return None


# ------------------------------------------------------------------------- staff management
class StaffRefused(PortalError):
    code = "staff_refused"


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if len(reason) < 5:
        raise ValidationError({"reason": "Give a reason (at least 5 characters)."})
    return reason


def _active_operators():
    from django.db.models import Q

    return User.objects.filter(is_active=True).filter(
        Q(is_superuser=True) | Q(groups__name=Role.OPERATOR.value)
    )


def _refuse_self(user: User, by: User | None, what: str) -> None:
    if by is not None and by.pk == user.pk:
        raise StaffRefused(f"You cannot {what} yourself: ask another operator.", code="self")


def _refuse_last_operator(user: User, what: str) -> None:
    if _active_operators().exclude(pk=user.pk).distinct().count() == 0:
        raise StaffRefused(
            f"Cannot {what} {user.get_username()}: they are the last active operator. "
            "Make someone else an operator first.",
            code="last_operator",
        )


def _is_operator(user: User) -> bool:
    return user.is_superuser or user.groups.filter(name=Role.OPERATOR.value).exists()


def _by_actor(by: User | None) -> Actor | None:
    """The acting operator, when the caller named one and bound no actor; else None (the
    request's or task's bound actor)."""
    from audit.context import current_actor

    if by is None or current_actor() is not None:
        return None
    return Actor.user(by)


def _record_staff(action, user: User, summary: str, reason: str, actor, changes=None) -> None:
    audit_record(
        action=action,
        summary=summary,
        actor=actor,
        target_type="user",
        target_id=user.get_username(),
        target_label=user.get_username(),
        reason=reason,
        changes=changes,
    )


def _locked_user(user: User) -> User:
    return User.objects.select_for_update().get(pk=user.pk)


@transaction.atomic
def staff_role_change(
    *, user: User, role: Role | str, reason: str, by: User | None = None, actor=None
) -> User:
    """Give a staff account another role (exactly one)."""
    from .roles import user_role

    reason = _reason(reason)
    if role not in [r.value for r in STAFF_ROLES]:
        raise ValidationError(
            {"role": f"Choose one of: {', '.join(r.value for r in STAFF_ROLES)}."}
        )
    role = Role(role)
    _refuse_self(user, by, "change the role of")
    user = _locked_user(user)
    before = user_role(user) if user.is_active else None
    before_value = before.value if before else None
    if before_value == role.value:
        return user
    if _is_operator(user) and role != Role.OPERATOR:
        _refuse_last_operator(user, "remove the operator role from")
    user.groups.set([Group.objects.get(name=role.value)])
    user.is_staff = role == Role.OPERATOR
    user.is_superuser = False if role != Role.OPERATOR else user.is_superuser
    user.save(update_fields=["is_staff", "is_superuser"])
    _record_staff(
        Action.STAFF_ROLE_CHANGED,
        user,
        f"Changed {user.get_username()}'s role to {role.label}",
        reason,
        actor or _by_actor(by),
        changes={"role": {"before": before_value, "after": role.value}},
    )
    return user


@transaction.atomic
def staff_deactivate(*, user: User, reason: str, by: User | None = None, actor=None) -> User:
    """Switch an account off: it can no longer sign in, and its sessions end now."""
    reason = _reason(reason)
    _refuse_self(user, by, "deactivate")
    user = _locked_user(user)
    if not user.is_active:
        return user
    if _is_operator(user):
        _refuse_last_operator(user, "deactivate")
    user.is_active = False
    user.save(update_fields=["is_active"])
    ended = _end_sessions(user)
    _record_staff(
        Action.STAFF_DEACTIVATED,
        user,
        f"Deactivated {user.get_username()} ({counted(ended, 'session')} ended)",
        reason,
        actor or _by_actor(by),
        changes={"is_active": {"before": True, "after": False}},
    )
    return user


@transaction.atomic
def staff_reactivate(*, user: User, reason: str, by: User | None = None, actor=None) -> User:
    reason = _reason(reason)
    user = _locked_user(user)
    if user.is_active:
        return user
    user.is_active = True
    user.save(update_fields=["is_active"])
    _record_staff(
        Action.STAFF_REACTIVATED,
        user,
        f"Reactivated {user.get_username()}",
        reason,
        actor or _by_actor(by),
        changes={"is_active": {"before": False, "after": True}},
    )
    return user


@transaction.atomic
def staff_unlock(*, user: User, reason: str, by: User | None = None, actor=None) -> bool:
    """Lift the sign-in (and code) lock the throttle put on this account; True if it was locked."""
    from . import throttle

    reason = _reason(reason)
    was_locked = throttle.unlock(user.get_username())
    _record_staff(
        Action.STAFF_UNLOCKED,
        user,
        f"Unlocked sign-in for {user.get_username()}"
        + ("" if was_locked else " (it was not locked)"),
        reason,
        actor or _by_actor(by),
    )
    return was_locked


@transaction.atomic
def staff_mfa_reset(*, user: User, reason: str, by: User | None = None, actor=None) -> None:
    """Remove someone's second factor (lost phone): their sessions end, and their next
    sign-in enrols a new one (or, for roles that need none, signs in with the password)."""
    from django_otp import devices_for_user

    reason = _reason(reason)
    _refuse_self(user, by, "reset the second factor of")
    removed = 0
    for device in list(devices_for_user(user, confirmed=None)):
        device.delete()
        removed += 1
    ended = _end_sessions(user)
    _record_staff(
        Action.STAFF_MFA_RESET,
        user,
        f"Reset the second factor of {user.get_username()} "
        f"({counted(removed, 'device')} removed, {counted(ended, 'session')} ended)",
        reason,
        actor or _by_actor(by),
    )


@transaction.atomic
def staff_sessions_revoke(*, user: User, reason: str, by: User | None = None, actor=None) -> int:
    """Sign someone out everywhere; returns how many sessions ended."""
    reason = _reason(reason)
    ended = _end_sessions(user)
    _record_staff(
        Action.STAFF_SESSIONS_REVOKED,
        user,
        f"Revoked {counted(ended, 'session')} of {user.get_username()}",
        reason,
        actor or _by_actor(by),
    )
    return ended


def _end_sessions(user: User) -> int:
    """Delete every stored session of `user`. Sessions live in the database (Django's default
    engine, which the portal uses), so they can be found; staff are few, and only unexpired
    sessions are read."""
    from django.contrib.sessions.models import Session

    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk):
            session.delete()
            ended += 1
    return ended


def _invite_hash(token: str) -> str:
    from .selectors import invite_hash

    return invite_hash(token)


@transaction.atomic
def staff_invite(
    *, email: str, role: Role | str, reason: str, invited_by: User | None = None, actor=None
) -> tuple[Invite, str]:
    """Invite someone: returns the invitation and its one-time token (for the link, which is
    e-mailed and never shown again). Earlier open invitations for the address stop working."""
    from django.conf import settings

    reason = _reason(reason)
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationError({"email": f"'{email}' is not a valid e-mail address."}) from exc
    if role not in [r.value for r in STAFF_ROLES]:
        raise ValidationError(
            {"role": f"Choose one of: {', '.join(r.value for r in STAFF_ROLES)}."}
        )
    if User.objects.filter(username=email).exists():
        raise ValidationError({"email": f"A staff account for {email} already exists."})
    now = timezone.now()
    Invite.objects.filter(email=email, accepted_at__isnull=True, expires_at__gt=now).update(
        expires_at=now
    )
    token = secrets.token_urlsafe(32)
    invite = Invite(
        email=email,
        role=Role(role),
        token_hash=_invite_hash(token),
        invited_by=invited_by,
        expires_at=now + dt.timedelta(hours=settings.PORTAL_INVITE_HOURS),
    )
    invite.full_clean()
    invite.save()
    audit_record(
        action=Action.STAFF_INVITED,
        summary=f"Invited {email} as {Role(role).label}",
        actor=actor or _by_actor(invited_by),
        target_type="user",
        target_id=email,
        target_label=email,
        reason=reason,
        changes={"role": {"before": None, "after": Role(role).value}},
    )
    return invite, token


@transaction.atomic
def staff_invite_accept(*, token: str, password: str, full_name: str = "") -> User:
    """Create the invited account with the password the invitee chose; the link then stops
    working. Raises ValidationError when the link is unknown, used or expired."""
    invite = Invite.objects.select_for_update().filter(token_hash=_invite_hash(token or "")).first()
    if invite is None or not invite.is_usable():
        raise ValidationError(
            {"token": "This invitation link is not valid: it expired or was already used."}
        )
    actor = Actor(AuditEvent.ActorType.USER, invite.email)
    user, _ = staff_user_create(
        email=invite.email,
        role=Role(invite.role),
        password=password,
        full_name=full_name,
        actor=actor,
    )
    StaffProfile.objects.update_or_create(user=user, defaults={"invited_by": invite.invited_by})
    invite.accepted_at = timezone.now()
    invite.user = user
    invite.save(update_fields=["accepted_at", "user"])
    audit_record(
        action=Action.STAFF_INVITE_ACCEPTED,
        summary=f"{invite.email} accepted the invitation and set a password",
        actor=actor,
        target_type="user",
        target_id=invite.email,
        target_label=invite.email,
    )
    return user


def staff_access_review_exported(*, actor=None) -> None:
    """Record that the access review was downloaded (who saw the list of accounts and keys)."""
    with transaction.atomic():
        audit_record(
            action=Action.STAFF_ACCESS_REVIEW_EXPORTED,
            summary="Downloaded the access review (staff accounts and API keys) as CSV",
            actor=actor,
            target_type="access_review",
        )
