"""The org list's filters, as on the page; the selector does the filtering."""

import django_filters

from ..models import CustomerOrg
from ..selectors import org_list

SORTS = [
    "name",
    "-name",
    "status",
    "-status",
    "token__access_expires_at",
    "-token__access_expires_at",
    "created_at",
    "-created_at",
]


class OrgFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(help_text="Part of the name, or the Webex org UUID.")
    status = django_filters.ChoiceFilter(choices=CustomerOrg.Status.choices)
    sort = django_filters.ChoiceFilter(choices=[(s, s) for s in SORTS], help_text="Order.")

    class Meta:
        model = CustomerOrg
        fields = ["q", "status", "sort"]

    def filter_queryset(self, queryset):
        d = self.form.cleaned_data
        return org_list(
            search=d.get("q") or "", status=d.get("status") or "", sort=d.get("sort") or "name"
        )
