"""Template helpers shared by every page. Load with `{% load portal %}`.

`{% when dt %}` shows a moment both ways: relative for a glance ("in 3 h 12 min", "5 min ago")
and absolute with its time zone for the record ("2026-11-23 14:05 UTC"), inside a `<time>`
element whose `datetime` attribute carries the exact ISO instant for machines and screen readers.
"""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html

register = template.Library()

_UNITS = (("d", 86400), ("h", 3600), ("min", 60))


def relative(moment: dt.datetime, now: dt.datetime) -> str:
    """ "in 3 h 12 min" / "2 d 4 h ago" / "just now": the two largest non-zero units."""
    seconds = int((moment - now).total_seconds())
    future, seconds = seconds > 0, abs(seconds)
    if seconds < 60:
        return "just now"
    parts = []
    for name, size in _UNITS:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {name}")
        if len(parts) == 2:
            break
        if parts and not count:  # "2 d 0 h 5 min" reads badly: stop at the first gap
            break
    text = " ".join(parts)
    return f"in {text}" if future else f"{text} ago"


def absolute(moment: dt.datetime) -> str:
    """ "2026-11-23 14:05 UTC": in the portal's time zone, with that zone's name."""
    local = timezone.localtime(moment)
    return date_format(local, "Y-m-d H:i T")


@register.simple_tag
def when(moment: dt.datetime | None, now: dt.datetime | None = None, default: str = "—"):
    """`{% when ds.token_expires_at %}` -> `<time datetime=ISO title=absolute>relative</time>
    · absolute`. `now` pins the reference moment (tests, lists rendered at one instant)."""
    if moment is None or moment == "":
        return default
    if not isinstance(moment, dt.datetime):
        return default
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, dt.UTC)
    now = now or timezone.now()
    exact = absolute(moment)
    return format_html(
        '<time datetime="{}" title="{}">{}</time> <span class="text-body-secondary">· {}</span>',
        moment.isoformat(),
        exact,
        relative(moment, now),
        exact,
    )


@register.filter
def aria_sort(sort: str, field: str) -> str:
    """`<th aria-sort="{{ sort|aria_sort:'name' }}">`: how a column is sorted, for screen
    readers ("ascending", "descending" or "none")."""
    if sort == field:
        return "ascending"
    if sort == f"-{field}":
        return "descending"
    return "none"
