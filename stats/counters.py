"""Counters written by services, in the caller's transaction, one UPSERT per table.

Not a `services` module: a counter changes no business state and is not audited by itself;
the rotation that calls it records its own audit event in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from .models import RotationOutcomeHour, RotationOutcomeTotal

SUCCESS = "rotated"
FAILURES = ("failed", "rate_limited", "missing")
OUTCOMES = (SUCCESS, *FAILURES)


def hour_start(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def record_rotation_outcome(*, outcome: str, at: dt.datetime | None = None, count: int = 1) -> None:
    """Add `count` (one by default) to the counter of `outcome` for the hour of `at` (now by
    default).

    One INSERT ... ON CONFLICT DO UPDATE (PostgreSQL and SQLite >= 3.24 both speak it), so
    concurrent rotations never lose an increment and never need a lock of their own.
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown rotation outcome {outcome!r}")
    if count < 1:
        raise ValueError(f"a count of rotations is at least 1, not {count}")
    hour = hour_start(at or timezone.now())
    add(RotationOutcomeHour, keys={"hour": hour, "outcome": outcome}, counts={"count": count})


def add(model: type[models.Model], *, keys: dict[str, Any], counts: dict[str, float]) -> None:
    """Add `counts` to the row of `model` that `keys` name, creating it at those counts.

    One INSERT ... ON CONFLICT DO UPDATE (PostgreSQL and SQLite >= 3.24 both speak it), so
    concurrent writers never lose an increment and never need a lock of their own. `keys` must
    be the columns of a unique constraint of `model`.
    """
    table = connection.ops.quote_name(model._meta.db_table)
    fields = {f.name: f for f in model._meta.concrete_fields}
    columns = [*keys, *counts]
    values = [fields[name].get_db_prep_value(value, connection) for name, value in keys.items()]
    values += list(counts.values())
    quoted = [connection.ops.quote_name(c) for c in columns]
    increments = ", ".join(f"{q} = {table}.{q} + excluded.{q}" for q in quoted[len(keys) :])
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(quoted)}) VALUES ({', '.join(['%s'] * len(values))}) "  # noqa: S608 - names from model meta
            f"ON CONFLICT ({', '.join(quoted[: len(keys)])}) DO UPDATE SET {increments}",
            values,
        )


KEEP_HOURS = dt.timedelta(days=8)  # the dashboard's chart reads 7 days


def rotations_total() -> dict[str, int]:
    """outcome -> rotations that ever ended so, zeros included: the folded totals plus the
    hourly rows not folded yet (at most 8 days x 24 h x 4 outcomes), one query."""
    found = {outcome: 0 for outcome in OUTCOMES}
    folded = RotationOutcomeTotal.objects.values_list("outcome", "count")
    hourly = RotationOutcomeHour.objects.values_list("outcome", "count")
    for outcome, count in folded.union(hourly, all=True):
        found[outcome] = found.get(outcome, 0) + count
    return found


@transaction.atomic
def rotation_hours_fold(*, now: dt.datetime | None = None) -> int:
    """Move the hourly counts older than KEEP_HOURS into the totals (daily, by beat), so
    `rotations_total` reads a bounded number of rows whatever the history's length. Rotations
    add to the hourly rows only, one UPSERT each. Returns the rows folded."""
    cutoff = hour_start(now or timezone.now()) - KEEP_HOURS
    old = RotationOutcomeHour.objects.select_for_update().filter(hour__lt=cutoff)
    sums: dict[str, int] = {}
    for outcome, count in old.values_list("outcome", "count"):
        sums[outcome] = sums.get(outcome, 0) + count
    for outcome, count in sums.items():
        add(RotationOutcomeTotal, keys={"outcome": outcome}, counts={"count": count})
    deleted, _ = old.delete()
    return deleted


def rotation_outcomes_by_hour(
    *, hours: int = 168, now: dt.datetime | None = None
) -> list[tuple[dt.datetime, int, int]]:
    """(hour start, succeeded, failed) for each of the last `hours` hours, oldest first, zeros
    included. Reads at most hours x len(OUTCOMES) rows."""
    end = hour_start(now or timezone.now())
    start = end - dt.timedelta(hours=hours - 1)
    ok: dict[dt.datetime, int] = {}
    bad: dict[dt.datetime, int] = {}
    rows = RotationOutcomeHour.objects.filter(hour__gte=start).values_list(
        "hour", "outcome", "count"
    )
    for hour, outcome, count in rows:
        key = hour_start(hour)
        target = ok if outcome == SUCCESS else bad
        target[key] = target.get(key, 0) + count
    slots = [start + dt.timedelta(hours=i) for i in range(hours)]
    return [(slot, ok.get(slot, 0), bad.get(slot, 0)) for slot in slots]
