"""`update_where`: many rows, each with its own values and its own condition, in one UPDATE
(PostgreSQL) or one per row (elsewhere); the rows that no longer match are left alone."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.bulk import update_where

pytestmark = pytest.mark.django_db
User = get_user_model()


def users(count: int):
    return [
        User.objects.create(username=f"u{i}", email=f"u{i}@example.com", first_name=f"U{i}")
        for i in range(count)
    ]


def test_each_row_gets_its_own_values_only_where_its_condition_holds():
    a, b, c = users(3)
    seen = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    with CaptureQueriesContext(connection) as queries:
        updated = update_where(
            User,
            key="id",
            match=("first_name",),
            fields=("first_name", "last_login", "is_active"),
            rows=[
                (a.pk, "U0", "Ada", seen, False),
                (b.pk, "not U1 any more", "Bob", seen, False),  # its condition fails
                (c.pk, "U2", "Cy", None, True),  # NULL alone in its column still casts
            ],
        )
    assert sorted(updated) == sorted([a.pk, c.pk])
    fresh = {u.pk: u for u in User.objects.all()}
    assert (fresh[a.pk].first_name, fresh[a.pk].last_login, fresh[a.pk].is_active) == (
        "Ada",
        seen,
        False,
    )
    assert (fresh[b.pk].first_name, fresh[b.pk].last_login, fresh[b.pk].is_active) == (
        "U1",
        None,
        True,
    )
    assert (fresh[c.pk].first_name, fresh[c.pk].last_login) == ("Cy", None)
    if connection.vendor == "postgresql":
        assert len(queries.captured_queries) == 1


def test_nothing_to_write_makes_no_statement():
    with CaptureQueriesContext(connection) as queries:
        assert update_where(User, key="id", fields=("first_name",), rows=[]) == []
    assert queries.captured_queries == []


def test_a_row_of_the_wrong_width_is_refused_before_anything_is_written():
    (a,) = users(1)
    with pytest.raises(ValueError, match="each row needs 3 values"):
        update_where(
            User,
            key="id",
            match=("first_name",),
            fields=("first_name",),
            rows=[(a.pk, "U0", "Ada"), (a.pk, "U0")],
        )
    assert User.objects.get().first_name == "U0"
