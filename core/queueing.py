"""Queueing a Celery task once the current transaction commits, with its arguments type-checked."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ParamSpec, cast

if TYPE_CHECKING:
    from celery import Task
    from celery.contrib.django.task import DjangoTask

P = ParamSpec("P")


def enqueue_on_commit(task: Task[P, Any], /, *args: P.args, **kwargs: P.kwargs) -> None:
    """`task.delay(*args, **kwargs)` once the current transaction commits (at once outside a
    transaction; never if it rolls back): Celery's own `delay_on_commit`, called as is."""
    # Celery's Django fixup installs celery.contrib.django.task.DjangoTask as the app's task
    # class, so every task has delay_on_commit; the stubs type @shared_task as the plain Task.
    cast("DjangoTask[P, Any]", task).delay_on_commit(*args, **kwargs)
