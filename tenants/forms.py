"""Forms for orgs and Service Apps. They check shape; the services check the rules."""

import re
import uuid
from typing import cast

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from core.domains import approved_domains
from core.forms import PortalFormMixin

from .models import CustomerOrg, Region, ServiceApp


def _lines(value: str) -> list[str]:
    return [line.strip() for line in re.split(r"[\s,]+", value or "") if line.strip()]


class ServiceAppForm(PortalFormMixin, forms.Form):
    name = forms.CharField(max_length=200)
    client_id = forms.CharField(max_length=200, label="Client id")
    client_secret = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        label="Client secret",
        help_text="Stored encrypted; never shown again.",
    )
    region = forms.ChoiceField(choices=Region.choices)
    valid_domains = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Approved domains",
        help_text="One per line, as approved on the developer portal (e.g. byods.example.com).",
    )
    schema_ids = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        label="Schema ids",
        help_text="One data exchange schema UUID per line.",
    )
    integration_token = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        label="Partner integration token",
        help_text="A token with spark:applications_token, used to fetch org tokens. Stored "
        "encrypted.",
    )

    integration_token_expires_at = forms.DateTimeField(
        required=False,
        label="Integration token expires at (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    integration_client_id = forms.CharField(
        required=False,
        max_length=200,
        label="Integration client id",
        help_text="With the next two, lets the portal refresh the integration token itself.",
    )
    integration_client_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        label="Integration client secret",
    )
    integration_refresh_token = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        label="Integration refresh token",
    )

    def clean(self):
        data = super().clean()
        trio = ("integration_client_id", "integration_client_secret", "integration_refresh_token")
        given = [name for name in trio if data.get(name)]
        if given and len(given) < len(trio):
            for name in set(trio) - set(given):
                self.add_error(
                    name,
                    "Give the integration's client id, client secret and "
                    "refresh token together, or none of them.",
                )
        return data

    def clean_client_id(self):
        value = self.cleaned_data["client_id"].strip()
        if ServiceApp.objects.filter(client_id=value).exists():
            raise forms.ValidationError("A Service App with this client id already exists.")
        return value

    def clean_valid_domains(self):
        try:  # the rule is core.domains's (the service applies it too); shown here early
            return approved_domains(_lines(self.cleaned_data["valid_domains"]))
        except ValidationError as exc:
            raise forms.ValidationError(exc.message_dict["valid_domains"]) from None

    def clean_schema_ids(self):
        values = _lines(self.cleaned_data["schema_ids"])
        if not values:
            raise forms.ValidationError("List at least one schema id.")
        try:
            return [str(uuid.UUID(v)) for v in values]
        except ValueError:
            raise forms.ValidationError("Each schema id must be a UUID.") from None


class OnboardForm(PortalFormMixin, forms.Form):
    service_app = forms.ModelChoiceField(
        queryset=ServiceApp.objects.order_by("name"), label="Service App"
    )
    webex_org_id = forms.CharField(
        max_length=200,
        label="Webex org id",
        help_text="The org's UUID, or its base64 ciscospark://us/ORGANIZATION/… id.",
    )
    name = forms.CharField(max_length=200, label="Display name")
    region = forms.ChoiceField(choices=Region.choices)

    def clean_webex_org_id(self):
        from .services import parse_org_id  # the one rule for org ids, shared with the service

        value = self.cleaned_data["webex_org_id"]
        try:
            parse_org_id(value)
        except ValidationError as exc:
            raise forms.ValidationError(exc.message_dict["webex_org_id"]) from None
        return value

    owner = forms.ModelChoiceField(
        queryset=get_user_model().objects.filter(is_active=True).order_by("username"),
        required=False,
        label="Customer-success owner",
        help_text="Named in alerts about this org.",
    )


class TokenPasteForm(PortalFormMixin, forms.Form):
    """Shape only; the service proves the pair with Webex before anything is stored."""

    access_token = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        help_text="Issued by the Service App for this org. Checked with Webex before it is "
        "stored (encrypted).",
    )
    access_expires_at = forms.DateTimeField(
        required=False,
        label="Access token expires at (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="If given, it must be in the future. The portal keeps Webex's own expiry.",
    )
    refresh_token = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        help_text="Used once with Webex to prove it is alive; the portal refreshes with it "
        "from then on.",
    )
    refresh_expires_at = forms.DateTimeField(
        required=False,
        label="Refresh token expires at (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )


class OffboardForm(PortalFormMixin, forms.Form):
    confirm_name = forms.CharField(label="Type the org's name to confirm", max_length=200)
    mode = forms.ChoiceField(
        choices=CustomerOrg.OffboardMode.choices,
        widget=forms.RadioSelect,
        label="Its data sources at Webex",
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=256,
        help_text="Kept in the audit trail. When disabling, it is also the message the "
        "customer's admin sees in Control Hub.",
    )


# ------------------------------------------------------------------------- onboarding wizard
class WizardAppForm(PortalFormMixin, forms.Form):
    """Step 1: one of the Service Apps that can onboard an org right now."""

    service_app = forms.ModelChoiceField(
        queryset=ServiceApp.objects.none(),
        widget=forms.RadioSelect,
        label="Service App",
        empty_label=None,
        error_messages={"required": "Choose the Service App the org's admin authorized."},
    )

    def __init__(self, *args, apps: list[ServiceApp], **kwargs):
        super().__init__(*args, **kwargs)
        # self.fields holds copies of the fields declared above: a ModelChoiceField here.
        field = cast(forms.ModelChoiceField, self.fields["service_app"])
        field.queryset = ServiceApp.objects.filter(pk__in=[a.pk for a in apps]).order_by("name")
        if len(apps) == 1:
            self.fields["service_app"].initial = apps[0].pk


class WizardOrgForm(OnboardForm):
    """Step 2: the org itself; the Service App was chosen in step 1."""

    field_order = ["webex_org_id", "name", "owner", "region"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["service_app"]
