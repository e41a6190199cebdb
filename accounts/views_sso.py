"""The two single sign-on pages: the start (a redirect to the IdP) and the IdP's callback.

Both are mozilla-django-oidc's views with the endpoint taken from discovery, a 404 while SSO
is off, and failures shown to the person on the sign-in page (or, for a refusal by the portal,
on a page that says which groups are accepted) instead of a bare redirect or a 500.
"""

from __future__ import annotations

import logging

import requests
from django.contrib import messages
from django.core.exceptions import SuspiciousOperation
from django.http import Http404
from django.shortcuts import redirect, render
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from .sso import SsoConfigError, accepted_groups, discovery, sso_enabled

logger = logging.getLogger(__name__)

UNAVAILABLE = (
    "Single sign-on is unavailable: {reason} Try again later, or ask an operator to check the "
    "portal's single sign-on settings."
)


def _require_sso() -> None:
    if not sso_enabled():
        raise Http404("Single sign-on is not configured.")


class SsoStartView(OIDCAuthenticationRequestView):
    """GET: send the browser to the IdP's authorization endpoint (with state, nonce, PKCE)."""

    def __init__(self, *args, **kwargs):
        # The base class reads the endpoint from the settings here; ours comes from discovery,
        # which is read in `get`, where a failure can be shown.
        super(OIDCAuthenticationRequestView, self).__init__(*args, **kwargs)
        from django.conf import settings

        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID

    def get(self, request):
        _require_sso()
        try:
            self.OIDC_OP_AUTH_ENDPOINT = discovery().authorization_endpoint
        except SsoConfigError as exc:
            logger.error("single sign-on unavailable: %s", exc)
            messages.error(request, UNAVAILABLE.format(reason=str(exc)))
            return redirect("login")
        return super().get(request)


class SsoCallbackView(OIDCAuthenticationCallbackView):
    """GET: the IdP sends the browser back here with a code; the backend does the rest."""

    def get(self, request):
        _require_sso()
        try:
            return super().get(request)
        except SsoConfigError as exc:
            logger.error("single sign-on unavailable: %s", exc)
            messages.error(request, UNAVAILABLE.format(reason=str(exc)))
        except requests.RequestException as exc:
            logger.warning("single sign-on: the identity provider failed: %s", type(exc).__name__)
            messages.error(
                request,
                UNAVAILABLE.format(reason="the identity provider did not answer as expected."),
            )
        except SuspiciousOperation as exc:
            # An unknown or replayed state: a second tab, the back button, or a forged link.
            logger.warning("single sign-on callback refused: %s", exc)
            messages.error(
                request,
                "That single sign-on answer was stale or not for this browser. Start again.",
            )
        return redirect("login")

    def login_failure(self):
        refused = getattr(self.request, "sso_refused", None)
        if refused is not None:
            response = render(
                self.request,
                "registration/sso_refused.html",
                {"reason": refused.reason, "accepted_groups": accepted_groups()},
                status=403,
            )
            return response
        if self.request.GET.get("error") == "access_denied":
            messages.info(self.request, "Single sign-on was cancelled at the identity provider.")
        else:
            messages.error(
                self.request,
                "Single sign-on did not complete. Start again; if it keeps failing, an "
                "operator finds the reason in the portal's log and audit trail.",
            )
        return redirect("login")
