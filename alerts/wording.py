"""Durations and deadlines in plain words, as alerts and the dashboard say them."""

from __future__ import annotations

import datetime as dt


def duration_words(delta: dt.timedelta) -> str:
    """'3 h 12 min', '2 d 4 h', '45 s' (largest two units; never negative)."""
    seconds = max(0, int(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


def deadline_words(expires_at: dt.datetime | None, now: dt.datetime) -> str:
    """'data stops flowing in 3 h 12 min' or 'data stopped flowing 5 min ago'."""
    if expires_at is None:
        return "no token expiry known"
    if expires_at > now:
        return f"data stops flowing in {duration_words(expires_at - now)}"
    return f"data stopped flowing {duration_words(now - expires_at)} ago"


def times_words(n: int) -> str:
    """'once', 'twice', '3 times' (never 'time(s)')."""
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def failed_words(n: int) -> str:
    """'failed once', 'failed 3 times in a row'."""
    return "failed once" if n == 1 else f"failed {times_words(n)} in a row"
