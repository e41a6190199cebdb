"""Writes for staff accounts."""

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from audit.context import Actor
from audit.services import audit_record
from audit.vocabulary import Action

from .roles import Role


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
) -> tuple[AbstractUser, str]:
    """Create a staff account with exactly one role; returns the user and its password.

    The e-mail address is the login name. Raises ValidationError naming the field when the
    address is invalid or taken, or the password too weak.
    """
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationError({"email": f"'{email}' is not a valid e-mail address."}) from exc
    User = get_user_model()
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
