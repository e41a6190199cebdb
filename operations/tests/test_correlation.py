"""A request's correlation id in the tasks it queues, their audit events and the TrackingIDs
they send to Webex; a bulk operation keeps the id of the request that started it."""

import uuid

import pytest

from audit.context import Actor, bound, bound_correlation
from audit.models import AuditEvent
from audit.vocabulary import Action
from byods_portal.celery import app
from operations import services
from operations.models import BulkOperation
from operations.selectors import Selection


@pytest.fixture
def eager():
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = False


@pytest.mark.django_db
def test_rotate_now_through_the_api_sends_the_requests_id_to_webex_and_the_audit_trail(
    api_client_for, sources, emulator
):
    ds = sources[0]
    emulator.clear_requests_log()
    response = api_client_for("operator").post(f"/api/v1/datasources/{ds.public_id}/rotate/")
    assert response.status_code == 200, response.content
    cid = response["X-Correlation-ID"]
    (put,) = emulator.requests_log(method="PUT")
    assert put["trackingId"].startswith(f"BYODS_{cid}_")
    event = AuditEvent.objects.get(action=Action.DATASOURCE_ROTATED, target_id=str(ds.public_id))
    assert str(event.correlation_id) == cid


@pytest.mark.django_db
def test_a_bulk_operation_keeps_the_id_of_the_request_that_started_it_across_chunks(
    api_client_for,
    sources,
    emulator,
    settings,
    eager,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    """Four data sources, one per chunk: each chunk is a task of its own, queued by the one
    before; all of them, and every Webex call they make, carry the starting request's id."""
    settings.BULK_CHUNK_SIZE = 1
    emulator.clear_requests_log()
    body = {
        "kind": "rotate",
        "target_type": "datasource",
        "ids": [str(s.public_id) for s in sources],
    }
    runs = []
    real_run = services.bulk_operation_run

    def counted(**kwargs):  # the id each chunk's task runs under, before the run binds its own
        runs.append(bound_correlation())
        return real_run(**kwargs)

    monkeypatch.setattr(services, "bulk_operation_run", counted)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for("operator").post("/api/v1/bulk-operations/", body, format="json")
    assert response.status_code == 202, response.content
    cid = response["X-Correlation-ID"]
    op = BulkOperation.objects.get()
    assert (op.state, op.succeeded) == ("done", 4)
    assert len(runs) >= 4  # one task per chunk at least
    assert {str(r) for r in runs} == {cid}
    rotated = AuditEvent.objects.filter(action=Action.DATASOURCE_ROTATED)
    assert rotated.count() == 4
    assert {str(e.correlation_id) for e in rotated} == {cid}
    puts = emulator.requests_log(method="PUT")
    assert len(puts) == 4
    assert all(p["trackingId"].startswith(f"BYODS_{cid}_") for p in puts)
    assert len({p["trackingId"] for p in puts}) == 4


@pytest.mark.django_db
def test_a_resumed_bulk_operation_keeps_its_id(sources, operator_user, settings):
    """A stalled operation re-queued by beat (a fresh id there) still records under the id of
    the request that started it."""
    started_under = uuid.uuid4()
    with bound(correlation=started_under):
        op = services.bulk_operation_start(
            kind="rotate",
            selection=Selection("datasource", (sources[0].public_id,)),
            user=operator_user,
        )
    with bound(actor=Actor.system("bulk_operation")):  # a beat run: its own, other id
        assert bound_correlation() != started_under
        services.bulk_operation_run(operation_id=op.pk)
    event = AuditEvent.objects.get(action=Action.DATASOURCE_ROTATED)
    assert event.correlation_id == started_under
