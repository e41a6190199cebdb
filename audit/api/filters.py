"""The audit trail's filters: the log page's form (and its rules) under django-filter."""

import django_filters

from ..forms import AuditFilterForm
from ..models import AuditEvent
from ..selectors import audit_events
from ..vocabulary import Action


class AuditEventFilter(django_filters.FilterSet):
    actor = django_filters.CharFilter(
        help_text="Exact actor: an e-mail, api:<prefix> or system:<task>."
    )
    action = django_filters.ChoiceFilter(choices=Action.choices)
    org = django_filters.UUIDFilter(help_text="The org's id.")
    target_type = django_filters.CharFilter(help_text="org, datasource, apikey, user, …")
    target_id = django_filters.CharFilter()
    outcome = django_filters.ChoiceFilter(choices=AuditEvent.Outcome.choices)
    since = django_filters.IsoDateTimeFilter(help_text="From (inclusive), ISO 8601.")
    until = django_filters.IsoDateTimeFilter(
        help_text="Until (exclusive), ISO 8601; after `since`."
    )
    correlation = django_filters.UUIDFilter(help_text="Everything one request or task did.")

    class Meta:
        model = AuditEvent
        fields = [
            "actor",
            "action",
            "org",
            "target_type",
            "target_id",
            "outcome",
            "since",
            "until",
            "correlation",
        ]
        form = AuditFilterForm  # its clean(): "until" must be after "from", as on the page

    def filter_queryset(self, queryset):
        return audit_events(self.form.to_filter())
