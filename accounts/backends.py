"""The authentication backend: Django's model backend behind the sign-in throttle."""

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from . import throttle
from .sso import password_signin_enabled


class ThrottledModelBackend(ModelBackend):
    """Refuses (without checking the password) while a name or address is locked out.

    Raising PermissionDenied stops Django trying other backends and fires `user_login_failed`,
    so the refusal is audited like any other. Every login form (the portal's and the admin's)
    goes through here.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if password is None:
            return None  # not a password sign-in (the SSO callback): nothing to check here
        if not password_signin_enabled():
            # Single sign-on only (PORTAL_PASSWORD_SIGNIN=false): no password is checked, on
            # the portal's sign-in page, the admin's or anywhere else.
            return None
        name = str(username or kwargs.get("email") or "").strip().lower()
        ip = throttle.client_ip(request)
        if throttle.is_locked(name, ip):
            raise PermissionDenied("sign-in locked after repeated failures")
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            if password is not None and throttle.note_failure(name, ip):
                from .services import staff_sign_in_lock

                staff_sign_in_lock(username=name, client_ip=ip)
        else:
            throttle.note_success(name)
        return user
