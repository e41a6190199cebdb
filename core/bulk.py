"""Conditional updates of many rows with different values, in one statement.

Django's `bulk_update` writes each row's values by primary key alone; a hot path that must
write a row only if it is still in the state it was read in (a rotation's "pending nonce still
the one sent") needs a condition per row too. `update_where` does both with one
`UPDATE ... FROM UNNEST(arrays) ... RETURNING` on PostgreSQL, and one conditional UPDATE per row
elsewhere (SQLite, the embedded mode, where throughput is not the point).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, models


def update_where(
    model: type[models.Model],
    *,
    key: str,
    match: Sequence[str] = (),
    fields: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> list[Any]:
    """For each row `(key value, *match values, *field values)`, set `fields` on the row of
    `model` whose `key` column equals the key value and whose `match` columns equal the match
    values. Returns the key values of the rows updated (the others no longer matched)."""
    if not rows:
        return []
    width = 1 + len(match) + len(fields)
    if any(len(row) != width for row in rows):
        raise ValueError(f"each row needs {width} values: key, {list(match)}, {list(fields)}")
    meta = model._meta
    columns = [_concrete(model, name) for name in (key, *match, *fields)]
    if connection.vendor != "postgresql":
        return _one_by_one(model, key, match, fields, rows)
    quote = connection.ops.quote_name
    aliases = ["k", *(f"m{i}" for i in range(len(match))), *(f"f{i}" for i in range(len(fields)))]
    # One array per column, unnested into rows: the statement's text is the same whatever the
    # number of rows, so the driver parses it once (a VALUES list of rows x columns
    # placeholders was parsed anew each time: a millisecond for a group of rotations), and
    # each array carries its column's type, NULLs included.
    arrays = ", ".join(f"%s::{c.cast_db_type(connection)}[]" for c in columns)
    params = [
        [c.get_db_prep_save(row[i], connection) for row in rows] for i, c in enumerate(columns)
    ]
    names = [quote(_column_name(c)) for c in columns]
    target = names[0]
    conditions = [f"t.{target} = v.k"] + [
        f"t.{name} = v.m{i}" for i, name in enumerate(names[1 : 1 + len(match)])
    ]
    assignments = [f"{name} = v.f{i}" for i, name in enumerate(names[1 + len(match) :])]
    sql = (
        f"UPDATE {quote(meta.db_table)} AS t SET {', '.join(assignments)} "  # noqa: S608 - names from model meta
        f"FROM UNNEST({arrays}) AS v({', '.join(aliases)}) "
        f"WHERE {' AND '.join(conditions)} RETURNING t.{target}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [found for (found,) in cursor.fetchall()]


def _concrete(model: type[models.Model], name: str) -> models.Field:
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or not field.concrete or not field.column:
        raise ValueError(f"{model.__name__}.{name} is not a column")
    return field


def _column_name(field: models.Field) -> str:
    assert field.column  # checked by _concrete
    return field.column


def _one_by_one(model, key, match, fields, rows) -> list[Any]:
    updated = []
    for row in rows:
        where = dict(zip((key, *match), row[: 1 + len(match)], strict=True))
        values = dict(zip(fields, row[1 + len(match) :], strict=True))
        if model._default_manager.filter(**where).update(**values):
            updated.append(row[0])
    return updated
