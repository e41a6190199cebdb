"""Page-number paging for every list except the audit trail (which pages by keyset).

`page` and `page_size` are read strictly: a value that is not a whole number in range is a 400
naming the parameter (not silently the default size, as DRF does), and a page past the end is
a 404.
"""

import re

from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination


def whole_number(request, name: str, *, minimum: int, maximum: int | None = None) -> int | None:
    """The query parameter `name` as an int from `minimum` to `maximum`; None when absent."""
    if name not in request.query_params:
        return None
    raw = request.query_params[name]
    value = int(raw) if re.fullmatch(r"[0-9]{1,19}", raw) else None
    if value is None or value < minimum or (maximum is not None and value > maximum):
        upto = f" to {maximum}" if maximum is not None else " or more"
        raise serializers.ValidationError({name: [f"Give a whole number from {minimum}{upto}."]})
    return value


class PortalPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def paginate_queryset(self, queryset, request, view=None):
        whole_number(request, self.page_query_param, minimum=1, maximum=2**31 - 1)
        return super().paginate_queryset(queryset, request, view)

    def get_page_size(self, request):
        size = whole_number(request, self.page_size_query_param, minimum=1, maximum=200)
        return self.page_size if size is None else size

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"] |= {"minimum": 1, "maximum": 2**31 - 1}
            elif parameter["name"] == self.page_size_query_param:
                parameter["schema"] |= {"minimum": 1, "maximum": self.max_page_size}
        return parameters
