"""Sign-ins, refused sign-ins and sign-outs go into the audit trail."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from audit.context import Actor
from audit.models import AuditEvent
from audit.services import audit_record
from audit.vocabulary import Action

from .sso import BACKEND_PATH, password_signin_enabled


def _client(request) -> str:
    if request is None:
        return ""
    return f" from {request.META.get('REMOTE_ADDR', '?')}"


@receiver(user_logged_in, dispatch_uid="audit-signed-in")
def _signed_in(sender, request, user, **kwargs):
    sso = getattr(user, "backend", "") == BACKEND_PATH
    with transaction.atomic():
        audit_record(
            action=Action.STAFF_SSO_SIGNED_IN if sso else Action.STAFF_SIGNED_IN,
            summary=(
                f"{user.get_username()} signed in"
                f"{' through single sign-on' if sso else ''}{_client(request)}"
            ),
            actor=Actor.user(user),
            target_type="user",
            target_id=user.get_username(),
            target_label=user.get_username(),
        )


@receiver(user_login_failed, dispatch_uid="audit-sign-in-failed")
def _sign_in_failed(sender, credentials, request=None, **kwargs):
    if "nonce" in credentials:  # the single sign-on callback
        _sso_failed(request)
        return
    # Only a plausible login name is kept: people sometimes type a password into that field.
    name = str(credentials.get("username", ""))[:200]
    shown = name if "@" in name else "(not an e-mail address)"
    with transaction.atomic():
        audit_record(
            action=Action.STAFF_SIGN_IN_FAILED,
            summary=f"Refused sign-in as {shown}{_client(request)}",
            actor=Actor(AuditEvent.ActorType.USER, f"anonymous ({shown})"),
            target_type="user",
            target_label=shown,
            outcome=AuditEvent.Outcome.FAILED,
            error=(
                "wrong e-mail or password"
                if password_signin_enabled()
                else "password sign-in is switched off (single sign-on only)"
            ),
        )


def _sso_failed(request) -> None:
    """A refusal by the portal (no mapped group, deactivated account...) was recorded where it
    was decided; what reaches here otherwise is an IdP answer that failed verification."""
    if request is not None and getattr(request, "sso_refused", None) is not None:
        return
    with transaction.atomic():
        audit_record(
            action=Action.STAFF_SSO_REFUSED,
            summary=f"Refused single sign-on{_client(request)}: the IdP's answer failed checks",
            actor=Actor(AuditEvent.ActorType.USER, "anonymous (single sign-on)"),
            target_type="user",
            outcome=AuditEvent.Outcome.FAILED,
            error="the identity provider's answer failed verification",
        )


@receiver(user_logged_out, dispatch_uid="audit-signed-out")
def _signed_out(sender, request, user, **kwargs):
    if user is None:
        return
    with transaction.atomic():
        audit_record(
            action=Action.STAFF_SIGNED_OUT,
            summary=f"{user.get_username()} signed out",
            actor=Actor.user(user),
            target_type="user",
            target_id=user.get_username(),
            target_label=user.get_username(),
        )
    if request is not None:
        messages.info(request, "You have been signed out.")


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="staff-profile")
def _staff_profile(sender, instance, created, raw=False, **kwargs):
    """Every account has a profile (its public id), however it was made: the portal, the
    invitation, `createsuperuser` or the admin."""
    if created and not raw:
        from .models import StaffProfile

        StaffProfile.objects.get_or_create(user=instance)
