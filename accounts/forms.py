from django import forms
from django.contrib.auth.forms import AuthenticationForm


class SignInForm(AuthenticationForm):
    """Django's sign-in form, worded for e-mail logins (which are stored lower-case)."""

    username = forms.CharField(label="E-mail", max_length=254)
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That e-mail and password do not match an active staff account.",
    }

    def clean_username(self):
        return self.cleaned_data["username"].strip().lower()
