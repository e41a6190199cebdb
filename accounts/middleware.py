"""Keeps a session that has not given its second factor away from everything else.

The password sign-in logs the user in as Django does; for someone who must give a second factor
(`selectors.mfa_required`) that session is half-way: until django-otp marks it verified
(`request.user.is_verified()`, set by `django_otp.middleware.OTPMiddleware` above this one), it
reaches only the second-factor pages, signing out, and the pages anyone may see. Pages redirect
there; the API answers 403 to such a session. API keys are unaffected: a request that carries
`Authorization` is left to the API's key authentication, which ignores the session.
"""

from urllib.parse import urlencode

from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from core.api.errors import body

from . import selectors

#: URL names an unverified session may use (besides pages that need no sign-in at all).
ALLOWED = frozenset({"second_factor", "second_factor_enrol", "logout"})


class SecondFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not hasattr(user, "is_verified"):
            return None
        if user.is_verified():
            return None
        if selectors.session_signed_in_through_sso(request.session):
            return None  # the IdP asked for its own factors (README, "Single sign-on")
        match = getattr(request, "resolver_match", None)
        if match is not None and match.url_name in ALLOWED and not match.namespace:
            return None
        open_view = not getattr(view_func, "login_required", True)
        # API views authenticate themselves (so they are open to LoginRequiredMiddleware);
        # the API's documentation pages under /api/ are pages like any other.
        is_api = open_view and request.path_info.startswith("/api/")
        if is_api and request.META.get("HTTP_AUTHORIZATION"):
            return None  # an API key (or a refusal of one): the session plays no part
        if open_view and not is_api:
            return None  # a page anyone may see (the sign-in page, health checks, webhooks)
        if not selectors.mfa_required(user):
            return None
        if is_api:
            return JsonResponse(
                body(
                    "second_factor_required",
                    "Give your second factor at /login/second-factor/ before using the API "
                    "with this session (or use an API key).",
                ),
                status=403,
            )
        target = "second_factor" if selectors.mfa_enrolled(user) else "second_factor_enrol"
        return redirect(f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}")
