import datetime as dt

import pytest
from django.utils import timezone

from datasources import tasks
from datasources.models import DataSource


@pytest.mark.django_db(transaction=True)
def test_the_sweep_rotates_every_due_data_source_once(register, emulator, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from byods_portal.celery import app

    app.conf.task_always_eager = True
    try:
        sources = [register(url=f"https://rx{i}.byods.example.com/x") for i in range(5)]
        DataSource.objects.filter(pk__in=[s.pk for s in sources[:3]]).update(
            next_rotation_at=timezone.now() - dt.timedelta(seconds=1)
        )
        emulator.clear_requests_log()
        assert tasks.rotation_sweep() == 3
        assert len(emulator.requests_log(method="PUT")) == 3
        assert tasks.rotation_sweep() == 0  # all rotated: nothing due any more
        outcome = tasks.rotate_now([sources[4].pk])
        assert outcome == {"rotated": 1}
    finally:
        app.conf.task_always_eager = False


@pytest.mark.django_db(transaction=True)
def test_the_sweep_hands_out_each_batch_as_it_claims_it_up_to_its_limit(
    register, emulator, settings, monkeypatch
):
    """Batches go to the workers one by one while the sweep goes on claiming (the first
    calls need not wait for the whole claim); a sweep stops at its limit and the rest stays
    due, unclaimed, for the next."""
    settings.ROTATION_BATCH_SIZE, settings.ROTATION_SWEEP_LIMIT = 2, 5
    sources = [register(url=f"https://rx{i}.byods.example.com/x") for i in range(7)]
    DataSource.objects.filter(pk__in=[s.pk for s in sources]).update(
        next_rotation_at=timezone.now() - dt.timedelta(seconds=1)
    )
    handed: list[tuple[list[int], int]] = []

    def delay(batch):  # record what was claimed when each batch was handed out
        claimed = DataSource.objects.filter(claimed_until__gt=timezone.now()).count()
        handed.append((batch, claimed))

    monkeypatch.setattr(tasks.rotate_batch, "delay", delay)
    assert tasks.rotation_sweep() == 5
    assert [(len(batch), claimed) for batch, claimed in handed] == [(2, 2), (2, 4), (1, 5)]
    assert len({pk for batch, _ in handed for pk in batch}) == 5
    unclaimed = DataSource.objects.filter(claimed_until__isnull=True)
    assert unclaimed.count() == 2
    handed.clear()
    assert tasks.rotation_sweep() == 2  # the rest, at the next sweep
    assert [len(batch) for batch, _ in handed] == [2]
