"""Keyset paging for the audit trail (`?before=<cursor>` / `?after=<cursor>`): no COUNT and no
OFFSET, so a page costs the same at a million events as at a thousand (`audit.selectors`)."""

from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from core.api.pagination import whole_number

from ..selectors import audit_page

MAX_CURSOR = 2**63 - 1  # event ids are bigints


class AuditKeysetPagination(BasePagination):
    page_size = 50

    def _cursor(self, request, name: str) -> int | None:
        return whole_number(request, name, minimum=0, maximum=MAX_CURSOR)

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.page = audit_page(
            queryset,
            before=self._cursor(request, "before"),
            after=self._cursor(request, "after"),
            size=self.page_size,
        )
        return self.page.events

    def _link(self, name: str, cursor: int | None) -> str | None:
        if cursor is None:
            return None
        url = self.request.build_absolute_uri()
        url = remove_query_param(remove_query_param(url, "before"), "after")
        return replace_query_param(url, name, cursor)

    def get_paginated_response(self, data):
        return Response(
            {
                "older": self._link("before", self.page.older_cursor),
                "newer": self._link("after", self.page.newer_cursor),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        link = {"type": "string", "format": "uri", "nullable": True}
        older = "https://portal.example/api/v1/audit/events/?before=1200"
        return {
            "type": "object",
            "required": ["older", "newer", "results"],
            "properties": {
                "older": link | {"example": older},
                "newer": link | {"example": None},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": name,
                "in": "query",
                "required": False,
                "description": text,
                "schema": {"type": "integer", "minimum": 0, "maximum": MAX_CURSOR},
            }
            for name, text in (
                ("before", "Cursor from `older`: the page of older events."),
                ("after", "Cursor from `newer`: the page of newer events."),
            )
        ]
