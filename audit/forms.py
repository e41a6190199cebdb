import datetime as dt
import uuid

from django import forms
from django.urls import reverse

from .lookups import org_ids_named
from .models import AuditEvent
from .selectors import AuditFilter
from .vocabulary import Action


class AuditFilterForm(forms.Form):
    """The audit log's filters. All optional; each error names its field."""

    q = forms.CharField(
        required=False,
        max_length=200,
        label="Search",
        help_text="Words in the summary or the target's name.",
    )

    actor = forms.CharField(
        required=False,
        max_length=200,
        help_text="Exact actor: an e-mail, api:<prefix> or system:<task>.",
    )
    action = forms.ChoiceField(required=False, choices=[("", "Any action"), *Action.choices])
    org = forms.CharField(
        required=False,
        max_length=200,
        label="Org",
        help_text="The org's name (suggested as you type) or its portal id.",
    )
    target_type = forms.CharField(required=False, max_length=40)
    target_id = forms.CharField(required=False, max_length=64, label="Target id")
    outcome = forms.ChoiceField(
        required=False, choices=[("", "Any outcome"), *AuditEvent.Outcome.choices]
    )
    since = forms.DateTimeField(
        required=False,
        label="From (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    until = forms.DateTimeField(
        required=False,
        label="Until (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    correlation = forms.UUIDField(required=False, label="Correlation id")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Suggestions as one types: htmx asks the org list for names (an HTML datalist).
        self.org_suggest_url = reverse("tenants:org_suggest")

    def clean_org(self) -> uuid.UUID | None:
        """An org id, or an org's name turned into its id (one org by that name)."""
        value = self.cleaned_data.get("org")
        if value is None or isinstance(value, uuid.UUID):  # the API's own UUID field
            return value
        value = value.strip()
        if not value:
            return None
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
        ids = org_ids_named(value)
        if not ids:
            raise forms.ValidationError(
                f"No org is named “{value}”: pick a name from the suggestions or give its id."
            )
        if len(ids) > 1:
            raise forms.ValidationError(
                f"{len(ids)} orgs are named “{value}”: give the id of the one you mean."
            )
        return ids[0]

    def _utc(self, name: str):
        """The instant in UTC. Any offset ISO 8601 allows is read (PostgreSQL takes only
        +-15:59), and instants beyond year 1 to 9999 in UTC are the ends of time: no event
        lies outside them, so the filter means the same."""
        value = self.cleaned_data.get(name)
        if value is None:
            return None
        try:
            return value.astimezone(dt.UTC)
        except OverflowError:
            earliest = value.replace(tzinfo=None) < dt.datetime(2000, 1, 1)
            return (dt.datetime.min if earliest else dt.datetime.max).replace(tzinfo=dt.UTC)

    def clean_since(self):
        return self._utc("since")

    def clean_until(self):
        return self._utc("until")

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since >= until:
            self.add_error("until", "“Until” must be after “From”.")
        return data

    def to_filter(self) -> AuditFilter:
        d = self.cleaned_data
        return AuditFilter(
            actor=d.get("actor") or "",
            action=d.get("action") or "",
            org_id=d.get("org"),
            target_type=d.get("target_type") or "",
            target_id=d.get("target_id") or "",
            outcome=d.get("outcome") or "",
            since=d.get("since"),
            until=d.get("until"),
            correlation_id=d.get("correlation"),
            search=(d.get("q") or "").strip(),
        )
