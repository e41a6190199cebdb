"""Expiry sanity: a JWS expiry from Webex is believed only within now + the lifetime asked for
(plus a small margin). Beyond that, or already past, it is clock skew (Webex's or ours): the
data source keeps what Webex said and a sentence for the page, the schedule uses the bounded
value, and the alerts' evaluation opens a clock-skew alert while the flag stands."""

from __future__ import annotations

import datetime as dt

from core import policy as rules

from ..models import DataSource


def _span_words(delta: dt.timedelta) -> str:
    """'14 days', '3 hours', '30 minutes', '45 seconds' (the largest unit, rounded down)."""
    seconds = abs(int(delta.total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def _lifetime_words(minutes: int) -> str:
    """'30-minute', '2-hour', '1-day' (as in 'a 30-minute token')."""
    if minutes % 1440 == 0:
        return f"{minutes // 1440}-day"
    if minutes % 60 == 0:
        return f"{minutes // 60}-hour"
    return f"{minutes}-minute"


def _skew_detail(
    *, reported: dt.datetime, lifetime_minutes: int, now: dt.datetime, skew: str
) -> str:
    when = (
        f"{_span_words(reported - now)} away"
        if skew == "ahead"
        else f"{_span_words(now - reported)} in the past"
    )
    lifetime = dt.timedelta(minutes=lifetime_minutes)
    return (
        f"Webex reported an expiry {when} for a {_lifetime_words(lifetime_minutes)} token "
        f"({reported.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC): clock skew suspected; "
        f"scheduling with {_span_words(lifetime).replace('minutes', 'min')}"
    )


def expiry_apply(ds: DataSource, reported: dt.datetime | None, now: dt.datetime) -> None:
    """Store Webex's `tokenExpiryTime` on `ds` (not saved): the bounded value, and the clock
    skew flag set (first seen kept) or cleared."""
    check = rules.bounded_expiry(
        reported=reported, lifetime_minutes=ds.token_lifetime_minutes, now=now
    )
    ds.token_expires_at = check.expires_at
    if check.skew and reported is not None:
        ds.expiry_skew_since = ds.expiry_skew_since or now
        ds.expiry_reported_at = reported
        ds.expiry_skew_detail = _skew_detail(
            reported=reported, lifetime_minutes=ds.token_lifetime_minutes, now=now, skew=check.skew
        )
    else:
        ds.expiry_skew_since = ds.expiry_reported_at = None
        ds.expiry_skew_detail = ""
