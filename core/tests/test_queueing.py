"""A task runs under the correlation id of whoever queued it; Webex TrackingIDs name it
(core/queueing.py wired in byods_portal/celery.py, core/webex_adapter.py)."""

import uuid

import pytest
from celery.worker.request import Request

from audit.context import Actor, bound, bound_correlation
from byods_portal.celery import app
from core.queueing import CORRELATION_HEADER, enqueue_on_commit
from core.webex_adapter import tracking_id

SEEN: list[uuid.UUID | None] = []


@app.task(name="tests.correlation_probe")
def correlation_probe() -> None:
    """Records the correlation id it runs under, binding its own actor as real tasks do."""
    with bound(actor=Actor.system("probe")):
        SEEN.append(bound_correlation())


@pytest.fixture
def probe():
    SEEN.clear()
    return correlation_probe


@pytest.fixture
def eager():
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = False


def _deliver(queue: str, connection) -> list[dict]:
    """What a worker does with each message of `queue`: the worker's own request handling
    (headers to task.request, task_prerun, the run, task_postrun). Returns their headers."""
    headers = []
    with connection.SimpleQueue(queue) as messages:
        while messages.qsize():
            message = messages.get(timeout=1)
            headers.append(dict(message.headers))
            Request(message, app=app, task=correlation_probe).execute()
    return headers


def test_a_task_runs_under_the_correlation_id_of_whoever_queued_it(probe):
    queue = f"test-correlation-{uuid.uuid4().hex}"
    sender = uuid.uuid4()
    with app.connection_for_write("memory://") as connection:
        with bound(correlation=sender):
            probe.apply_async(connection=connection, queue=queue)
        # Beat sends with nothing bound: each run gets an id of its own.
        probe.apply_async(connection=connection, queue=queue)
        probe.apply_async(connection=connection, queue=queue)
        headers = _deliver(queue, connection)
    assert headers[0][CORRELATION_HEADER] == str(sender)
    assert CORRELATION_HEADER not in headers[1]
    assert SEEN[0] == sender
    assert None not in SEEN[1:]
    assert len({sender, *SEEN[1:]}) == 3
    assert bound_correlation() is None  # task_postrun ended each run's binding


@pytest.mark.django_db
def test_a_task_queued_on_commit_carries_the_id_in_force_when_it_was_queued(
    probe, eager, django_capture_on_commit_callbacks
):
    request_id = uuid.uuid4()
    with django_capture_on_commit_callbacks() as callbacks, bound(correlation=request_id):
        enqueue_on_commit(probe)
    assert SEEN == []
    for callback in callbacks:  # the commit, after the request's binding ended
        callback()
    assert [request_id] == SEEN


def test_tracking_ids_name_the_correlation_id_and_stay_unique():
    cid = uuid.uuid4()
    with bound(correlation=cid):
        first, second = tracking_id(), tracking_id()
    assert first.startswith(f"BYODS_{cid}_") and second.startswith(f"BYODS_{cid}_")
    assert first != second
    alone = tracking_id()
    assert alone.startswith("BYODS_") and str(cid) not in alone
