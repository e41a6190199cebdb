"""Forms for data sources. They check shape; `datasources.validation` (through the services)
checks the rules, so a rule's text is written once."""

import datetime as dt
from typing import cast

from django import forms
from django.utils import timezone

from core.forms import PortalFormMixin
from webex.schemas import schema_name


class SchemaSelect(forms.Select):
    """Options read as the schema's published name; each keeps its id on hover (title)."""

    def create_option(self, name, value, *args, **kwargs):
        option = super().create_option(name, value, *args, **kwargs)
        if value:
            option["attrs"]["title"] = value
        return option


class UTCDateTimeField(forms.DateTimeField):
    """A datetime-local input read and shown as UTC, whatever the server's time zone."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")

    def to_python(self, value):
        with timezone.override(dt.UTC):
            return super().to_python(value)

    def prepare_value(self, value):
        with timezone.override(dt.UTC):
            return super().prepare_value(value)


class DataSourceForm(PortalFormMixin, forms.Form):
    """Register or edit: the schema is chosen among those the org authorized."""

    # The fields the register and update services take, named as they take them.
    PAYLOAD = ("schema_id", "url", "audience", "subject", "token_lifetime_minutes")

    schema_id = forms.ChoiceField(label="Schema", widget=SchemaSelect)
    url = forms.CharField(label="URL", help_text="https:// on one of the org's authorized domains.")
    audience = forms.CharField(help_text="The JWS's audience claim, for your receiver to check.")
    subject = forms.CharField(help_text="The JWS's subject claim, for your receiver to check.")
    token_lifetime_minutes = forms.IntegerField(
        label="Token lifetime (minutes)", initial=60, help_text="1 to 1440."
    )

    def __init__(self, *args, org, current_schema_id: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        schema_ids = list(org.authorized_schema_ids or [])
        choices = [(s, schema_name(s)) for s in schema_ids]
        if current_schema_id and current_schema_id not in schema_ids:
            choices.append(
                (current_schema_id, f"{schema_name(current_schema_id)} (no longer authorized)")
            )
        if len(choices) != 1:
            choices.insert(0, ("", "Choose a schema…"))
        # self.fields holds copies of the fields declared above: schema_id is a ChoiceField.
        cast(forms.ChoiceField, self.fields["schema_id"]).choices = choices
        domains = ", ".join(org.authorized_domains or []) or "none yet"
        self.fields[
            "url"
        ].help_text = (
            f"https:// on one of the org's authorized domains or their subdomains: {domains}."
        )


class DisableForm(PortalFormMixin, forms.Form):
    message = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Shown to the customer's admin in Control Hub.",
        error_messages={"required": "Enter the message the customer's admin will see."},
    )


class DeleteForm(PortalFormMixin, forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), help_text="Kept in the audit trail."
    )
    understood = forms.BooleanField(
        label="I understand that Webex stops sending data to this URL and that this cannot be "
        "undone.",
        error_messages={"required": "Tick this box to confirm the deletion."},
    )


class MaintenanceForm(PortalFormMixin, forms.Form):
    disable_at = UTCDateTimeField(label="Disable at (UTC)")
    enable_at = UTCDateTimeField(label="Enable again at (UTC)")
    message = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Shown to the customer's admin in Control Hub while the data source is disabled.",
    )
