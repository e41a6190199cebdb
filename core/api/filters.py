"""Query filters, read strictly: the schema documents each filter's type, so a value of another
type is refused (400 naming the parameter) instead of being quietly ignored.

django-filter skips an empty value (`?status=`), as a page's empty filter box should; for the
API, an empty id, choice or date is not "no filter" but a value that is not an id, a choice or a
date. Free-text filters (`q`, `actor`, ...) may be empty.
"""

import django_filters
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import serializers

EMPTY = "Give a value, or leave the parameter out."


def check_filter_values(filterset) -> None:
    """Refuse empty values for filters that are not free text (their schema has no empty)."""
    errors = {
        name: [EMPTY]
        for name, flt in filterset.filters.items()
        if filterset.data.get(name, None) == "" and type(flt) is not django_filters.CharFilter
    }
    if errors:
        raise serializers.ValidationError(errors)


class StrictFilterBackend(DjangoFilterBackend):
    def get_filterset(self, request, queryset, view):
        filterset = super().get_filterset(request, queryset, view)
        if filterset is not None:
            check_filter_values(filterset)
        return filterset
