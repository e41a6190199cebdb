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

from webex.ids import decode as decode_webex_id
from webex.schemas import schema_name as published_schema_name

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


@register.filter
def schema_name(schema_id: str) -> str:
    """`{{ ds.schema_id|schema_name }}`: the published name ("Voice Virtual Agent Service")."""
    return published_schema_name(schema_id)


@register.simple_tag
def schema(schema_id: str):
    """`{% schema ds.schema_id %}`: the schema's name with its id on hover."""
    return format_html('<span title="{}">{}</span>', schema_id, published_schema_name(schema_id))


@register.filter
def webex_person(webex_id: str) -> str:
    """An authorizer as people read it: Webex sends `authorizerId`, base64 of
    `ciscospark://<region>/PEOPLE/<uuid>`; shown as "Webex person <uuid> (us)". Anything that
    does not decode is shown as it is."""
    if not webex_id:
        return ""
    try:
        region, kind, value = decode_webex_id(webex_id)
    except ValueError:
        return webex_id
    label = {"PEOPLE": "Webex person", "ORGANIZATION": "Webex org"}.get(kind, kind.title())
    return f"{label} {value} ({region})"
