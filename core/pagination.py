"""A paginator whose count stops at a cap, so a list page costs the same at any table size."""

from functools import cached_property

from django.core.paginator import Paginator
from django.db.models import QuerySet


class CappedPaginator(Paginator):
    """Counts at most `cap` rows (`SELECT COUNT(*) FROM (... LIMIT cap + 1)`); past that the
    page shows "1000+" and offers the first cap / per_page pages: narrower filters reach the
    rest. An exact count over every row would grow with the fleet."""

    object_list: QuerySet  # querysets only: `_bounded` counts with a LIMITed COUNT query

    def __init__(self, object_list: QuerySet, per_page, *, cap: int = 1000, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.cap = cap

    @cached_property
    def _bounded(self) -> int:
        return self.object_list.order_by()[: self.cap + 1].count()

    @cached_property
    def count(self) -> int:
        return min(self._bounded, self.cap)

    @cached_property
    def capped(self) -> bool:
        return self._bounded > self.cap
