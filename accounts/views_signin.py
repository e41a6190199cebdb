"""The second half of signing in: the second factor (enrolment and codes), and accepting an
invitation. The password half is Django's LoginView (byods_portal/urls.py)."""

from base64 import b32encode
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login

from core.views import service_call

from . import selectors, services
from .forms import InviteAcceptForm, SecondFactorForm


def _next(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("dashboard")


def _qr_svg(text: str) -> str:
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    return image.to_string(encoding="unicode")


@never_cache
@require_http_methods(["GET", "POST"])
def second_factor(request):
    """Ask for the code from the authenticator app (or a recovery code)."""
    if request.user.is_verified() or not selectors.mfa_required(request.user):
        return redirect(_next(request))  # given already, or nothing to give
    if not selectors.mfa_enrolled(request.user):
        return redirect(f"{reverse('second_factor_enrol')}?{urlencode({'next': _next(request)})}")
    form = SecondFactorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with service_call(request, form=form) as call:
            device = services.mfa_verify(user=request.user, token=form.cleaned_data["token"])
        if call.ok:
            request.session.cycle_key()
            otp_login(request, device)
            return redirect(_next(request))
    return render(request, "accounts/second_factor.html", {"form": form, "next": _next(request)})


@never_cache
@require_http_methods(["GET", "POST"])
def second_factor_enrol(request):
    """Set up an authenticator app: its secret (and QR code), a first code to confirm it, and
    then the recovery codes, shown once."""
    if selectors.mfa_enrolled(request.user):
        if not request.user.is_verified():
            return redirect(f"{reverse('second_factor')}?{urlencode({'next': _next(request)})}")
        # Enrolled already: a new app replaces the old only through an operator's reset.
        return render(request, "accounts/second_factor_enrolled.html")
    device = selectors.mfa_pending_device(request.user) or services.mfa_enrol_begin(
        user=request.user
    )
    form = SecondFactorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with service_call(request, form=form) as call:
            codes = services.mfa_enrol_confirm(user=request.user, token=form.cleaned_data["token"])
        if call.ok:
            device.refresh_from_db()
            request.session.cycle_key()
            otp_login(request, device)
            response = render(
                request, "accounts/recovery_codes.html", {"codes": codes, "next": _next(request)}
            )
            response["Cache-Control"] = "no-store"
            return response
    secret = b32encode(device.bin_key).decode()
    response = render(
        request,
        "accounts/second_factor_enrol.html",
        {
            "form": form,
            "next": _next(request),
            "secret": secret,
            "secret_groups": [secret[i : i + 4] for i in range(0, len(secret), 4)],
            "qr_svg": _qr_svg(device.config_url),
        },
    )
    response["Cache-Control"] = "no-store"
    return response


@never_cache
@login_not_required
@require_http_methods(["GET", "POST"])
def invite_accept(request, token: str):
    """An invitee chooses a password; then signs in (and enrols a second factor if needed)."""
    invite = selectors.invite_for_token(token)
    if invite is None:
        return render(request, "accounts/invite_invalid.html", status=410)
    form = InviteAcceptForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with service_call(request, form=form) as call:
            user = services.staff_invite_accept(
                token=token,
                password=form.cleaned_data["password"],
                full_name=form.cleaned_data["full_name"],
            )
        if call.ok:
            login(request, user, backend="accounts.backends.ThrottledModelBackend")
            messages.success(request, f"Welcome, {user.get_username()}.")
            if selectors.mfa_required(user):
                return redirect("second_factor_enrol")
            return redirect("dashboard")
    return render(request, "accounts/invite_accept.html", {"form": form, "invite": invite})
