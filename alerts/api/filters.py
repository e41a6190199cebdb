"""The alert list's filters, as on the page; the selector does the filtering."""

import django_filters

from .. import selectors
from ..models import Alert, Kind


class AlertFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(
        choices=[("open", "open"), ("all", "all")],
        help_text="`open` (the default): unresolved alerts only; `all`: resolved ones too.",
    )
    kind = django_filters.ChoiceFilter(choices=Kind.choices)
    org = django_filters.UUIDFilter(help_text="The org's id.")
    q = django_filters.CharFilter(
        max_length=100, help_text="Part of the org's name or of the summary."
    )

    class Meta:
        model = Alert
        fields = ["state", "kind", "org", "q"]

    def filter_queryset(self, queryset):
        d = self.form.cleaned_data
        return selectors.alert_list(
            state=d.get("state") or "open",
            kind=d.get("kind") or "",
            search=(d.get("q") or "").strip(),
            org_public_id=d.get("org"),
        )
