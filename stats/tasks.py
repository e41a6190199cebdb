"""Beat, daily: fold old hourly rotation counts into the totals (stats.counters)."""

from celery import shared_task

from .counters import rotation_hours_fold


@shared_task(name="stats.fold_rotation_hours")
def fold_rotation_hours() -> int:
    return rotation_hours_fold()
