"""The data source list's filters, as on the page; the selector does the filtering."""

import django_filters

from .. import selectors
from ..models import DataSource

SORTS = sorted(selectors.SORTS) + sorted(f"-{s}" for s in selectors.SORTS)


class DataSourceFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(help_text="Part of the URL, audience, subject or org name.")
    org = django_filters.UUIDFilter(help_text="The org's id.")
    status = django_filters.ChoiceFilter(choices=DataSource.Status.choices)
    health = django_filters.ChoiceFilter(choices=selectors.HEALTH)
    sort = django_filters.ChoiceFilter(choices=[(s, s) for s in SORTS])

    class Meta:
        model = DataSource
        fields = ["q", "org", "status", "health", "sort"]

    def filter_queryset(self, queryset):
        d = self.form.cleaned_data
        return selectors.datasource_list(
            org_public_id=d.get("org"),
            status=d.get("status") or "",
            health=d.get("health") or "",
            search=d.get("q") or "",
            sort=d.get("sort") or "",
        )
