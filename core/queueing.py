"""Queueing Celery tasks: once the current transaction commits, with its arguments type-checked,
and under the correlation id of whoever queued them.

A task runs under the correlation id of the request or task that queued it, so a request's
audit events, log lines and Webex TrackingIDs, and those of every task it started (and every
task those started: a bulk operation's chunks), share one id. The id travels in a message
header; `byods_portal/celery.py` connects the three signal handlers below and makes
`PortalTask` the task class. A task that beat
sends (no binding in beat) runs under a fresh id per run. A task that binds its own actor with
`audit.context.bound(actor=...)` keeps the propagated id: `bound` reuses the one in force.
"""

from __future__ import annotations

import contextvars
import functools
import uuid
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, ParamSpec, cast

from celery.contrib.django.task import DjangoTask
from django.db import transaction

from audit.context import bound, bound_correlation

if TYPE_CHECKING:
    from celery import Task

P = ParamSpec("P")
CORRELATION_HEADER = "portal_correlation_id"
_SCOPE = "_portal_scope"  # where a running task's binding waits for task_postrun


class PortalTask(DjangoTask):
    """The app's task class (`byods_portal/celery.py`): Celery's Django task, whose on-commit
    sends run in a copy of the caller's context. The message then carries the correlation id
    of whoever queued it even when the commit comes after that binding ended."""

    # The stubs say these return an AsyncResult; Celery's own return None (on_commit's value).
    def delay_on_commit(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        context = contextvars.copy_context()
        transaction.on_commit(functools.partial(context.run, self.delay, *args, **kwargs))

    def apply_async_on_commit(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        context = contextvars.copy_context()
        transaction.on_commit(functools.partial(context.run, self.apply_async, *args, **kwargs))


def enqueue_on_commit(task: Task[P, Any], /, *args: P.args, **kwargs: P.kwargs) -> None:
    """`task.delay(*args, **kwargs)` once the current transaction commits (at once outside a
    transaction; never if it rolls back): the task class's `delay_on_commit`, called as is."""
    # The app's task class is PortalTask, a DjangoTask, so every task has delay_on_commit; the
    # stubs type @shared_task as the plain Task.
    cast("DjangoTask[P, Any]", task).delay_on_commit(*args, **kwargs)


def add_correlation_header(headers: dict[str, Any] | None = None, **_kwargs: Any) -> None:
    """`before_task_publish`: put the bound correlation id in the message (unless the sender
    chose one)."""
    cid = bound_correlation()
    if headers is not None and cid is not None:
        headers.setdefault(CORRELATION_HEADER, str(cid))


def bind_task_correlation(task: Task | None = None, **_kwargs: Any) -> None:
    """`task_prerun`: bind the message's correlation id for the task's run. Without one, a
    fresh id; an eager task (run in its caller's thread) keeps its caller's."""
    if task is None:
        return
    request = task.request
    sent = getattr(request, CORRELATION_HEADER, None) or (request.headers or {}).get(
        CORRELATION_HEADER
    )
    cid = _parse(sent)
    if cid is None and not request.is_eager:
        cid = uuid.uuid4()
    scope = ExitStack()
    scope.enter_context(bound(correlation=cid))
    setattr(request, _SCOPE, scope)


def unbind_task_correlation(task: Task | None = None, **_kwargs: Any) -> None:
    """`task_postrun`: end the binding `bind_task_correlation` made for this run."""
    if task is None:
        return
    scope = task.request.__dict__.pop(_SCOPE, None)
    if scope is not None:
        scope.close()


def _parse(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None
