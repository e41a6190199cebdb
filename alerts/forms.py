"""Forms for alerts and channels: shape only; the services check the rules."""

from django import forms

from core.forms import PortalFormMixin
from tenants.models import CustomerOrg

from .models import Kind


class ChannelForm(PortalFormMixin, forms.Form):
    team = forms.CharField(max_length=100, label="Team")
    email_recipients = forms.CharField(
        required=False,
        label="E-mail recipients",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One address per line (or separated by commas).",
    )
    webhook_url = forms.CharField(
        required=False,
        max_length=500,
        label="Webhook URL",
        help_text="Slack-compatible incoming webhook; https:// (plain http only to localhost).",
    )
    webhook_secret = forms.CharField(
        required=False,
        label="Webhook signing secret",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="At least 16 characters; signs each POST (X-BYODS-Signature). Stored "
        "encrypted and never shown again: leave empty to keep the current one.",
    )
    kinds = forms.MultipleChoiceField(
        choices=Kind.choices,
        widget=forms.CheckboxSelectMultiple,
        label="Alert kinds this team receives",
        required=False,
    )
    enabled = forms.BooleanField(required=False, initial=True, label="Enabled")

    def payload(self) -> dict:
        d = self.cleaned_data
        emails = [e for chunk in d["email_recipients"].splitlines() for e in chunk.split(",")]
        return {
            "team": d["team"],
            "email_recipients": [e.strip() for e in emails if e.strip()],
            "webhook_url": d["webhook_url"],
            "webhook_secret": d["webhook_secret"],
            "kinds": d["kinds"],
            "enabled": d["enabled"],
        }


class IncidentForm(PortalFormMixin, forms.Form):
    org = forms.ModelChoiceField(
        queryset=CustomerOrg.objects.order_by("name"),
        to_field_name="public_id",
        label="Org",
    )
    summary = forms.CharField(
        max_length=500,
        label="What is happening",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Sent to the channels that receive incidents, with the org and its owner.",
    )


class QuietForm(PortalFormMixin, forms.Form):
    """Snooze (an end time is required) or silence (empty end time: until resolved)."""

    until = forms.DateTimeField(
        required=False,
        label="Until (UTC)",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="A snooze needs one; a silence without one lasts until the alert resolves.",
    )
    reason = forms.CharField(
        max_length=500,
        label="Reason",
        help_text="Why nobody needs to hear of it for now (recorded in the audit trail).",
    )
