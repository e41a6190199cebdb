import datetime as dt

from django import forms

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
    org = forms.UUIDField(required=False, label="Org id", help_text="The org's portal UUID.")
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
