import csv
import logging
import uuid
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.contrib.auth.views import LoginView
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from core.views import service_call
from core.words import counted

from . import selectors, services, throttle
from .forms import ApiKeyForm, ApiKeyRevokeForm, InviteForm, ReasonForm, RoleChangeForm, SignInForm
from .roles import Perm, Role, user_role
from .selectors import STAFF_SORTS
from .selectors import staff_list as select_staff
from .sso import password_signin_enabled, sso_enabled


class PortalLoginView(LoginView):
    """Django's sign-in page with the single sign-on button when SSO is on; with password
    sign-in switched off it offers only that, and a password POST is refused (403)."""

    authentication_form = SignInForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            sso_enabled=sso_enabled(), password_signin=password_signin_enabled(), **kwargs
        )

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.has_error("__all__", code="password_signin_off"):
            response.status_code = 403
        return response


logger = logging.getLogger(__name__)


# Staff and API key lists are readable by auditors too (access review is their task); every
# change needs MANAGE_STAFF (operators).
@require_GET
@permission_required(Perm.VIEW_AUDIT, raise_exception=True)
def staff_list(request):
    search = request.GET.get("q", "").strip()
    sort = request.GET.get("sort", "username")
    sort = sort if sort.removeprefix("-") in STAFF_SORTS else "username"
    page = Paginator(select_staff(search=search, sort=sort), 50).get_page(request.GET.get("page"))
    rows = [
        (u, user_role(u) if u.is_active else None, throttle.locked_until(u.username))
        for u in page.object_list
    ]
    return render(
        request,
        "accounts/staff_list.html",
        {
            "page": page,
            "rows": rows,
            "search": search,
            "sort": sort,
            "filter_query": urlencode({"q": search} if search else {}),
            "page_query": urlencode({k: v for k, v in {"q": search, "sort": sort}.items() if v}),
            "invites": selectors.invite_list_open()
            if request.user.has_perm(Perm.MANAGE_STAFF)
            else [],
            "can_manage": request.user.has_perm(Perm.MANAGE_STAFF),
        },
    )


# ------------------------------------------------------------------------- API keys
@require_GET
@permission_required(Perm.VIEW_AUDIT, raise_exception=True)
def apikey_list(request):
    page = Paginator(selectors.apikey_list(), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "accounts/apikey_list.html",
        {
            "page": page,
            "now": timezone.now(),
            "can_manage": request.user.has_perm(Perm.MANAGE_STAFF),
        },
    )


@require_http_methods(["GET", "POST"])
@permission_required(Perm.MANAGE_STAFF, raise_exception=True)
def apikey_create(request):
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        with service_call(request, form=form) as call:
            api_key, key = services.apikey_create(
                name=d["name"], role=d["role"], expires_at=d["expires_at"], created_by=request.user
            )
        if call.ok:
            # Rendered, not redirected: the key exists only in this one response.
            response = render(
                request, "accounts/apikey_created.html", {"api_key": api_key, "key": key}
            )
            response["Cache-Control"] = "no-store"
            return response
    return render(request, "accounts/apikey_form.html", {"form": form})


@require_http_methods(["GET", "POST"])
@permission_required(Perm.MANAGE_STAFF, raise_exception=True)
def apikey_revoke(request, public_id: uuid.UUID):
    api_key = selectors.apikey_get(public_id)
    if api_key.revoked_at:
        messages.info(request, f"{api_key.prefix} is already revoked.")
        return redirect("accounts:apikey_list")
    form = ApiKeyRevokeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with service_call(request, form=form) as call:
            services.apikey_revoke(
                api_key=api_key, reason=form.cleaned_data["reason"], revoked_by=request.user
            )
        if call.ok:
            messages.success(request, f"Revoked {api_key.prefix} “{api_key.name}”.")
            return redirect("accounts:apikey_list")
    return render(request, "accounts/apikey_revoke.html", {"api_key": api_key, "form": form})


# ------------------------------------------------------------------------- staff management
#: action in the URL -> (title, form, destructive: the page warns in red)
STAFF_ACTIONS = {
    "role": ("Change role", RoleChangeForm, False),
    "deactivate": ("Deactivate", ReasonForm, True),
    "reactivate": ("Reactivate", ReasonForm, False),
    "unlock": ("Unlock sign-in", ReasonForm, False),
    "reset-second-factor": ("Reset second factor", ReasonForm, True),
    "revoke-sessions": ("Revoke sessions", ReasonForm, True),
}


@require_GET
@permission_required(Perm.VIEW_AUDIT, raise_exception=True)
def staff_detail(request, public_id: uuid.UUID):
    person = selectors.staff_get(public_id)
    return render(
        request,
        "accounts/staff_detail.html",
        {
            "person": person,
            "role": user_role(person) if person.is_active else None,
            "locked_until": throttle.locked_until(person.username),
            "mfa_enrolled": selectors.mfa_enrolled(person),
            "sign_in_method": selectors.staff_sign_in_method(person),
            "can_manage": request.user.has_perm(Perm.MANAGE_STAFF),
            "is_self": person.pk == request.user.pk,
            "history": selectors.staff_history(person),
        },
    )


@require_http_methods(["GET", "POST"])
@permission_required(Perm.MANAGE_STAFF, raise_exception=True)
def staff_action(request, public_id: uuid.UUID, action: str):
    """One confirmation page (with the reason, and the role for a role change) per action."""
    if action not in STAFF_ACTIONS:
        raise Http404("No such action")
    person = selectors.staff_get(public_id)
    title, form_class, destructive = STAFF_ACTIONS[action]
    current = user_role(person)
    initial = {"role": current.value} if action == "role" and current else {}
    form = form_class(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        common = {"user": person, "reason": d["reason"], "by": request.user}
        with service_call(request, form=form) as call:
            if action == "role":
                services.staff_role_change(role=d["role"], **common)
                done = f"{person.username} is now {Role(d['role']).label}."
            elif action == "deactivate":
                services.staff_deactivate(**common)
                done = f"Deactivated {person.username}; their sessions ended."
            elif action == "reactivate":
                services.staff_reactivate(**common)
                done = f"Reactivated {person.username}."
            elif action == "unlock":
                was = services.staff_unlock(**common)
                done = (
                    f"Unlocked {person.username}." if was else f"{person.username} was not locked."
                )
            elif action == "reset-second-factor":
                services.staff_mfa_reset(**common)
                done = f"Reset the second factor of {person.username}: they enrol anew."
            else:
                n = services.staff_sessions_revoke(**common)
                done = f"Ended {counted(n, 'session')} of {person.username}."
        if call.ok:
            messages.success(request, done)
            return redirect("accounts:staff_detail", public_id=public_id)
    return render(
        request,
        "accounts/staff_action.html",
        {
            "person": person,
            "action": action,
            "title": title,
            "form": form,
            "destructive": destructive,
            "is_self": person.pk == request.user.pk,
        },
    )


@require_http_methods(["GET", "POST"])
@permission_required(Perm.MANAGE_STAFF, raise_exception=True)
def staff_invite(request):
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        with service_call(request, form=form) as call:
            invite, token = services.staff_invite(
                email=d["email"], role=d["role"], reason=d["reason"], invited_by=request.user
            )
        if call.ok:
            link = request.build_absolute_uri(reverse("accounts:invite_accept", args=[token]))
            sent = send_invite_mail(invite, link, request.user)
            if sent:
                messages.success(request, f"Invited {invite.email}: the link is in their mail.")
            else:
                messages.warning(
                    request,
                    f"Invited {invite.email}, but the mail could not be sent: invite them again "
                    "once e-mail works (the new link replaces this one).",
                )
            return redirect("accounts:staff_list")
    return render(
        request,
        "accounts/staff_invite.html",
        {"form": form, "invite_hours": settings.PORTAL_INVITE_HOURS},
    )


def send_invite_mail(invite, link: str, inviter) -> bool:
    from django.conf import settings
    from django.core.mail import send_mail

    hours = settings.PORTAL_INVITE_HOURS
    try:
        send_mail(
            "Your BYODS portal account",
            f"{inviter.get_username()} invited you to the BYODS operations portal as "
            f"{invite.get_role_display()}.\n\nChoose your password here (the link works once, "
            f"for {hours} hours):\n{link}\n",
            None,
            [invite.email],
        )
    except Exception:  # noqa: BLE001 - SMTP failures of every kind: the page says so
        logger.warning("invitation mail to %s failed", invite.email, exc_info=True)
        return False
    return True


# ------------------------------------------------------------------------- access review
@require_GET
@permission_required(Perm.VIEW_AUDIT, raise_exception=True)
def access_review(request):
    return render(
        request,
        "accounts/access_review.html",
        {
            "staff": selectors.access_review_staff(),
            "apikeys": selectors.access_review_apikeys(),
            "history": selectors.role_history(),
            "now": timezone.now(),
        },
    )


ACCESS_REVIEW_COLUMNS = [
    "kind",
    "id",
    "email_or_prefix",
    "name",
    "role",
    "active",
    "sign_in_method",
    "second_factor",
    "last_sign_in_or_used",
    "locked_until",
    "invited_or_created_by",
    "created_at",
    "expires_at",
    "revoked_at",
    "role_before",
    "reason",
]


def csv_safe(value) -> str:
    """Neutralise spreadsheet formulas (CSV injection): a cell starting with = + - @ is text."""
    text = "" if value is None else value.isoformat() if hasattr(value, "isoformat") else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@require_GET
@permission_required(Perm.VIEW_AUDIT, raise_exception=True)
def access_review_csv(request):
    rows = selectors.access_review_rows()
    services.staff_access_review_exported()
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="access-review.csv"'
    response["Cache-Control"] = "no-store"
    writer = csv.DictWriter(response, fieldnames=ACCESS_REVIEW_COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: csv_safe(v) for k, v in row.items()})
    return response
