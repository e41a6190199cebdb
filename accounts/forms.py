from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm

from core.forms import PortalFormMixin

from . import throttle
from .roles import STAFF_ROLES, Role
from .sso import password_signin_enabled


class SignInForm(AuthenticationForm):
    """Django's sign-in form, worded for e-mail logins (which are stored lower-case)."""

    username = forms.CharField(label="E-mail", max_length=254)
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That e-mail and password do not match an active staff account.",
        "locked": (
            "Too many failed sign-ins: sign-in for this account (or from this address) is "
            "paused for %(minutes)s minutes. Wait, or ask an operator to unlock it (Staff page)."
        ),
        "password_signin_off": (
            "Password sign-in is switched off for this portal: use “Sign in with single sign-on”."
        ),
    }

    def clean(self):
        if not password_signin_enabled():
            # Refused before any password is checked (the backend refuses too, for the admin).
            raise forms.ValidationError(
                self.error_messages["password_signin_off"], code="password_signin_off"
            )
        return super().clean()

    def clean_username(self):
        return self.cleaned_data["username"].strip().lower()

    def get_invalid_login_error(self):
        name = self.cleaned_data.get("username", "")
        if throttle.is_locked(name, throttle.client_ip(self.request)):
            return forms.ValidationError(
                self.error_messages["locked"],
                code="locked",
                params={"minutes": settings.LOGIN_THROTTLE_MINUTES},
            )
        return super().get_invalid_login_error()


class ApiKeyForm(PortalFormMixin, forms.Form):
    name = forms.CharField(
        max_length=100, help_text="What uses the key, e.g. “provisioning pipeline”."
    )
    role = forms.ChoiceField(
        choices=Role.choices,
        help_text="The key may do exactly what this role may do in the portal. "
        "The verifier role may only verify JWS.",
    )
    expires_at = forms.DateTimeField(
        required=False,
        label="Expires at (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Leave empty for a key that lasts until revoked.",
    )


class ApiKeyRevokeForm(PortalFormMixin, forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), help_text="Kept in the audit trail."
    )


class SecondFactorForm(PortalFormMixin, forms.Form):
    token = forms.CharField(
        label="Code",
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True}),
        help_text="The 6 digits your authenticator app shows, or one of your recovery codes.",
    )


class ReasonForm(PortalFormMixin, forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), help_text="Kept in the audit trail."
    )


class RoleChangeForm(ReasonForm):
    role = forms.ChoiceField(choices=[(r.value, r.label) for r in STAFF_ROLES])
    field_order = ["role", "reason"]


class InviteForm(ReasonForm):
    email = forms.EmailField(label="E-mail")
    role = forms.ChoiceField(choices=[(r.value, r.label) for r in STAFF_ROLES])
    field_order = ["email", "role", "reason"]


class InviteAcceptForm(PortalFormMixin, forms.Form):
    full_name = forms.CharField(max_length=150, required=False, label="Your name")
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}), label="Password"
    )
    password_again = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        label="Password again",
    )

    def clean(self):
        data = super().clean()
        if data.get("password") and data.get("password") != data.get("password_again"):
            self.add_error("password_again", "The two passwords differ.")
        return data
