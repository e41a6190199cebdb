"""The bulk operation list's filters, as on the page; the selector does the filtering."""

import django_filters

from ..models import BulkOperation
from ..selectors import bulk_operation_list


class OperationFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=BulkOperation.Kind.choices)
    state = django_filters.ChoiceFilter(choices=BulkOperation.State.choices)

    class Meta:
        model = BulkOperation
        fields = ["kind", "state"]

    def filter_queryset(self, queryset):
        d = self.form.cleaned_data
        return bulk_operation_list(kind=d.get("kind") or "", state=d.get("state") or "")
