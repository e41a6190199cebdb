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
