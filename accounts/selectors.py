"""Reads for staff accounts."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Q, QuerySet
from django.http import Http404

from .models import ApiKey, Invite

STAFF_SORTS = ("username", "last_login", "date_joined")


def staff_list(*, search: str = "", sort: str = "username") -> QuerySet:
    sort = sort if sort.removeprefix("-") in STAFF_SORTS else "username"
    users = (
        get_user_model()
        .objects.select_related("staff_profile")
        .prefetch_related("groups")
        .order_by(sort, "pk")
    )
    if search:
        users = users.filter(
            Q(username__icontains=search)
            | Q(first_name__icontains=search)
            | Q(last_name__icontains=search)
            | Q(email__icontains=search)
        )
    return users


def apikey_list() -> QuerySet[ApiKey]:
    return ApiKey.objects.select_related("created_by", "revoked_by").order_by("-created_at", "-pk")


def apikey_get(public_id) -> ApiKey:
    key = ApiKey.objects.filter(public_id=public_id).first()
    if key is None:
        raise Http404("No such API key")
    return key


# ------------------------------------------------------------------------- second factor
def mfa_enrolled(user) -> bool:
    """Whether `user` has a confirmed authenticator app."""
    from .models import AuthenticatorApp

    return bool(user.pk) and AuthenticatorApp.objects.filter(user=user, confirmed=True).exists()


def mfa_required(user) -> bool:
    """Whether `user` must give a second factor after the password: their role is one of
    PORTAL_MFA_REQUIRED_ROLES (a superuser counts as an operator), or they enrolled one."""
    from django.conf import settings

    from .roles import user_role

    if mfa_enrolled(user):
        return True
    role = user_role(user)
    return role is not None and role.value in settings.PORTAL_MFA_REQUIRED_ROLES


def session_signed_in_through_sso(session) -> bool:
    """Whether this session was signed in through single sign-on: the IdP enforced its own
    factors, so the portal asks for none (its TOTP is for password sign-ins)."""
    from django.contrib.auth import BACKEND_SESSION_KEY

    from .sso import BACKEND_PATH

    return session.get(BACKEND_SESSION_KEY) == BACKEND_PATH


def staff_sign_in_method(user) -> str:
    """How this person signs in: "SSO" (linked to the IdP, no password), "SSO or password"
    (a password account later linked to the IdP) or "password". Reads `sso_identity`, which the
    access review loads with the user (no query per person)."""
    try:
        linked = user.sso_identity is not None
    except ObjectDoesNotExist:
        linked = False
    if not linked:
        return "password"
    return "SSO or password" if user.has_usable_password() else "SSO"


# ------------------------------------------------------------------------- staff management
def staff_get(public_id):
    user = (
        get_user_model()
        .objects.select_related("staff_profile")
        .filter(staff_profile__public_id=public_id)
        .first()
    )
    if user is None:
        raise Http404("No such staff account")
    return user


def invite_list_open() -> QuerySet[Invite]:
    from django.utils import timezone

    return Invite.objects.select_related("invited_by").filter(
        accepted_at__isnull=True, expires_at__gt=timezone.now()
    )


def role_history(limit: int = 500) -> QuerySet:
    """Role changes (and account creations and invitations, which give a first role) from the
    audit trail, newest first."""
    from audit.models import AuditEvent
    from audit.vocabulary import Action

    return AuditEvent.objects.filter(
        action__in=[Action.STAFF_CREATED, Action.STAFF_INVITED, Action.STAFF_ROLE_CHANGED]
    ).order_by("-id")[:limit]


def access_review_staff() -> list[dict]:
    """One row per staff account, for the access review (page, CSV and API)."""
    from . import throttle
    from .models import AuthenticatorApp
    from .roles import user_role

    enrolled = set(
        AuthenticatorApp.objects.filter(confirmed=True).values_list("user_id", flat=True)
    )
    rows = []
    users = (
        get_user_model()
        .objects.select_related("staff_profile__invited_by", "sso_identity")
        .prefetch_related("groups")
        .order_by("username", "pk")
    )
    for user in users:
        role = user_role(user) if user.is_active else _role_ignoring_active(user)
        profile = getattr(user, "staff_profile", None)
        inviter = profile.invited_by if profile else None
        rows.append(
            {
                "id": str(profile.public_id) if profile else "",
                "email": user.username,
                "name": user.get_full_name(),
                "role": role.value if role else "",
                "role_label": role.label if role else "no role",
                "active": user.is_active,
                "sign_in_method": staff_sign_in_method(user),
                "second_factor": user.pk in enrolled,
                "last_sign_in": user.last_login,
                "locked_until": throttle.locked_until(user.username),
                "invited_by": inviter.username if inviter else "",
                "user": user,
            }
        )
    return rows


def _role_ignoring_active(user):
    from .roles import Role

    if user.is_superuser:
        return Role.OPERATOR
    names = {g.name for g in user.groups.all()}
    return next((r for r in Role if r.value in names), None)


def access_review_apikeys() -> list[dict]:
    return [
        {
            "id": str(k.public_id),
            "prefix": k.prefix,
            "name": k.name,
            "role": k.role,
            "created_by": k.created_by.username if k.created_by else "",
            "created_at": k.created_at,
            "last_used_at": k.last_used_at,
            "expires_at": k.expires_at,
            "revoked_at": k.revoked_at,
        }
        for k in apikey_list()
    ]


def mfa_pending_device(user):
    """The authenticator app being enrolled (not yet confirmed), or None."""
    from .models import AuthenticatorApp

    return AuthenticatorApp.objects.filter(user=user, confirmed=False).order_by("-pk").first()


def staff_history(user, limit: int = 50) -> QuerySet:
    """The audit events about one staff account, newest first."""
    from audit.models import AuditEvent

    return AuditEvent.objects.filter(target_type="user", target_id=user.username).order_by("-id")[
        :limit
    ]


def access_review_rows() -> list[dict]:
    """The access review as flat rows (the CSV and the API): staff accounts, API keys, then
    the role history."""
    rows: list[dict] = []
    for s in access_review_staff():
        rows.append(
            {
                "kind": "staff",
                "id": s["id"],
                "email_or_prefix": s["email"],
                "name": s["name"],
                "role": s["role"],
                "active": "yes" if s["active"] else "no",
                "sign_in_method": s["sign_in_method"],
                "second_factor": "yes" if s["second_factor"] else "no",
                "last_sign_in_or_used": s["last_sign_in"],
                "locked_until": s["locked_until"],
                "invited_or_created_by": s["invited_by"],
            }
        )
    for k in access_review_apikeys():
        rows.append(
            {
                "kind": "apikey",
                "id": k["id"],
                "email_or_prefix": k["prefix"],
                "name": k["name"],
                "role": k["role"],
                "active": "no" if k["revoked_at"] else "yes",
                "sign_in_method": "API key",
                "last_sign_in_or_used": k["last_used_at"],
                "invited_or_created_by": k["created_by"],
                "created_at": k["created_at"],
                "expires_at": k["expires_at"],
                "revoked_at": k["revoked_at"],
            }
        )
    for e in role_history():
        role = (e.changes or {}).get("role") or {}
        rows.append(
            {
                "kind": "role_change",
                "id": str(e.public_id),
                "email_or_prefix": e.target_label,
                "role": role.get("after") or "",
                "role_before": role.get("before") or "",
                "invited_or_created_by": e.actor,
                "created_at": e.occurred_at,
                "reason": e.reason,
            }
        )
    return rows


def invite_hash(token: str) -> str:
    import hashlib

    return hashlib.sha256(token.encode()).hexdigest()


def invite_for_token(token: str) -> Invite | None:
    """The usable invitation this token opens, or None (unknown, used or expired)."""
    invite = Invite.objects.filter(token_hash=invite_hash(token or "")).first()
    return invite if invite is not None and invite.is_usable() else None
