import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from datasources import services as ds_services
from datasources.tests.conftest import org, register  # noqa: F401 - shared fixtures
from stats.counters import record_rotation_outcome, rotation_outcomes_by_hour
from stats.models import RotationOutcomeHour
from tenants.tests.conftest import SYSTEM, portal_app  # noqa: F401 - shared fixture

pytestmark = pytest.mark.django_db


def test_it_counts_each_outcome_per_hour_with_one_row_each():
    at = dt.datetime(2026, 1, 5, 10, 17, tzinfo=dt.UTC)
    with transaction.atomic():
        record_rotation_outcome(outcome="rotated", at=at)
        record_rotation_outcome(outcome="rotated", at=at + dt.timedelta(minutes=30))
        record_rotation_outcome(outcome="failed", at=at)
        record_rotation_outcome(outcome="rotated", at=at + dt.timedelta(hours=1))
    rows = {(r.hour, r.outcome): r.count for r in RotationOutcomeHour.objects.all()}
    ten = dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)
    assert rows == {
        (ten, "rotated"): 2,
        (ten, "failed"): 1,
        (ten + dt.timedelta(hours=1), "rotated"): 1,
    }


def test_it_rejects_an_unknown_outcome():
    with pytest.raises(ValueError, match="unknown rotation outcome"):
        record_rotation_outcome(outcome="exploded")


def test_a_batch_adds_its_count_with_one_statement():
    at = dt.datetime(2026, 1, 5, 10, 17, tzinfo=dt.UTC)
    with transaction.atomic():
        record_rotation_outcome(outcome="rotated", at=at, count=16)
        record_rotation_outcome(outcome="rotated", at=at, count=3)
        record_rotation_outcome(outcome="rotated", at=at)
    assert RotationOutcomeHour.objects.get().count == 20
    with pytest.raises(ValueError, match="at least 1"):
        record_rotation_outcome(outcome="rotated", count=0)


def test_the_series_has_every_hour_oldest_first_with_zeros():
    now = dt.datetime(2026, 1, 5, 10, 17, tzinfo=dt.UTC)
    record_rotation_outcome(outcome="rate_limited", at=now - dt.timedelta(hours=2))
    record_rotation_outcome(outcome="rotated", at=now - dt.timedelta(days=8))  # outside
    series = rotation_outcomes_by_hour(hours=168, now=now)
    assert len(series) == 168
    assert series[-1][0] == dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)
    assert series[-3][1:] == (0, 1)
    assert sum(ok for _, ok, _ in series) == 0


def test_rotations_count_their_outcome_in_the_same_transaction(register, emulator):  # noqa: F811
    ds = register()
    assert ds_services.datasource_rotate(ds_id=ds.pk, force=True, actor=SYSTEM).outcome == (
        "rotated"
    )
    emulator.set_faults(
        [
            {
                "method": "PUT",
                "pathRegex": "/v1/dataSources/",
                "kind": "status",
                "status": 429,
                "retryAfter": 60,
            }
        ]
    )
    assert ds_services.datasource_rotate(ds_id=ds.pk, force=True, actor=SYSTEM).outcome == (
        "rate_limited"
    )
    series = rotation_outcomes_by_hour(hours=2, now=timezone.now())
    assert sum(s[1] for s in series) == 1
    assert sum(s[2] for s in series) == 1


def test_folding_old_hours_keeps_the_total_and_bounds_the_rows():
    from stats.counters import rotation_hours_fold, rotations_total

    now = dt.datetime(2026, 3, 1, 12, 30, tzinfo=dt.UTC)
    for days_ago in (30, 10, 9, 1, 0):
        at = now - dt.timedelta(days=days_ago)
        record_rotation_outcome(outcome="rotated", at=at, count=days_ago + 1)
        record_rotation_outcome(outcome="failed", at=at)
    before = rotations_total()
    assert before == {"rotated": 31 + 11 + 10 + 2 + 1, "failed": 5, "rate_limited": 0, "missing": 0}
    assert rotation_hours_fold(now=now) == 6  # three old hours x two outcomes
    assert rotations_total() == before
    assert RotationOutcomeHour.objects.count() == 4
    assert rotation_hours_fold(now=now) == 0  # nothing left to fold
    assert rotations_total() == before
