"""Bulk services against the emulator: preview, start, run, crash-resume, retry failures."""

import pytest
from django.core.exceptions import ValidationError

from audit.models import AuditEvent
from audit.vocabulary import Action
from datasources.models import DataSource
from operations import services
from operations.models import BulkItem, BulkOperation
from operations.selectors import Selection
from tenants.models import CustomerOrg, OrgToken

from .conftest import fail_puts_to

Kind = BulkOperation.Kind


def pick(*items) -> Selection:
    return Selection(target_type="datasource", public_ids=tuple(i.public_id for i in items))


def run_all(op, limit=100) -> BulkOperation:
    while services.bulk_operation_run(operation_id=op.pk, limit=limit):
        pass
    op.refresh_from_db()
    return op


def rotated_events(ds) -> int:
    return AuditEvent.objects.filter(
        action=Action.DATASOURCE_ROTATED, target_id=str(ds.public_id)
    ).count()


# ------------------------------------------------------------------------- preview
@pytest.mark.django_db
def test_preview_counts_what_changes_and_why_others_are_skipped(sources):
    DataSource.objects.filter(pk=sources[0].pk).update(
        status=DataSource.Status.DISABLED, error_message="down"
    )
    disable = services.bulk_preview(kind=Kind.DISABLE, selection=pick(*sources))
    assert (disable.total, disable.will_change) == (4, 3)
    assert disable.skipped == [("already disabled", 1)]
    assert sources[0].url not in " ".join(disable.sample)
    assert sources[1].url in " ".join(disable.sample)
    rotate = services.bulk_preview(kind=Kind.ROTATE, selection=pick(*sources))
    assert rotate.skipped == [("disabled: only active data sources rotate", 1)]
    enable = services.bulk_preview(kind=Kind.ENABLE, selection=pick(*sources))
    assert (enable.will_change, enable.skipped_count) == (1, 3)


@pytest.mark.django_db
def test_preview_of_all_matching_a_filter(sources):
    selection = Selection(target_type="datasource", all_matching=True, filters={"q": "rx2."})
    preview = services.bulk_preview(kind=Kind.ROTATE, selection=selection)
    assert preview.total == 1 and sources[2].url in preview.sample[0]
    assert "matching q=rx2." in preview.selection


@pytest.mark.django_db
def test_preview_skips_data_sources_of_an_inactive_org(sources, org):
    CustomerOrg.objects.filter(pk=org.pk).update(status=CustomerOrg.Status.DEAUTHORIZED)
    preview = services.bulk_preview(kind=Kind.DISABLE, selection=pick(sources[0]))
    assert preview.skipped == [(f"its org {org.name} is deauthorized", 1)]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "selection", "field"),
    [
        ("explode", Selection(target_type="datasource", public_ids=()), "kind"),
        (Kind.OFFBOARD, Selection(target_type="datasource", all_matching=True), "kind"),
        (Kind.ROTATE, Selection(target_type="datasource"), "ids"),
        (Kind.ROTATE, Selection("datasource", all_matching=True, filters={"evil": "1"}), "filters"),
    ],
)
def test_bad_selections_name_the_field(kind, selection, field):
    with pytest.raises(ValidationError) as exc:
        services.bulk_preview(kind=kind, selection=selection)
    assert field in exc.value.message_dict


@pytest.mark.django_db
def test_data_source_actions_on_orgs_apply_to_their_data_sources(org, sources, register):
    DataSource.objects.filter(pk=sources[0].pk).update(deleted_at="2026-01-01T00:00:00Z")
    selection = Selection(target_type="org", all_matching=True, filters={"q": org.name})
    preview = services.bulk_preview(kind=Kind.ROTATE, selection=selection)
    assert (preview.target_type, preview.total) == ("datasource", 3)  # the deleted one is out
    assert preview.selection == f"the data sources of all orgs matching q={org.name}"
    other = Selection(target_type="org", all_matching=True, filters={"q": "nobody"})
    assert services.bulk_preview(kind=Kind.ROTATE, selection=other).total == 0


# ------------------------------------------------------------------------- start
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "params", "field"),
    [
        (Kind.DISABLE, {}, "message"),
        (Kind.DISABLE, {"message": "   "}, "message"),
        (Kind.DISABLE, {"message": "x" * 257}, "message"),
    ],
)
def test_start_checks_the_disable_message(sources, operator_user, kind, params, field):
    with pytest.raises(ValidationError) as exc:
        services.bulk_operation_start(
            kind=kind, selection=pick(*sources), params=params, user=operator_user
        )
    assert field in exc.value.message_dict
    assert not BulkOperation.objects.exists()


@pytest.mark.django_db
def test_start_checks_the_offboarding_input(org, operator_user):
    selection = Selection(target_type="org", public_ids=(org.public_id,))
    with pytest.raises(ValidationError) as exc:
        services.bulk_operation_start(
            kind=Kind.OFFBOARD, selection=selection, params={"mode": "x"}, user=operator_user
        )
    assert set(exc.value.message_dict) == {"mode", "reason"}


@pytest.mark.django_db
def test_start_snapshots_items_settles_skips_and_audits(sources, operator_user):
    DataSource.objects.filter(pk=sources[0].pk).update(
        status=DataSource.Status.DISABLED, error_message="down"
    )
    op = services.bulk_operation_start(
        kind=Kind.DISABLE,
        selection=pick(*sources),
        params={"message": "Planned maintenance"},
        user=operator_user,
    )
    assert (op.total, op.skipped, op.state) == (4, 1, "pending")
    assert op.items.filter(state="pending").count() == 3
    assert op.items.get(state="skipped").reason == "already disabled"
    event = AuditEvent.objects.get(action=Action.BULK_STARTED)
    assert event.target_id == str(op.public_id) and event.reason == "Planned maintenance"


# ------------------------------------------------------------------------- run
@pytest.mark.django_db
def test_bulk_disable_with_a_failing_item_then_retry_the_failure(sources, operator_user, emulator):
    fail_puts_to(emulator, sources[1])
    op = services.bulk_operation_start(
        kind=Kind.DISABLE,
        selection=pick(*sources),
        params={"message": "Planned maintenance"},
        user=operator_user,
    )
    op = run_all(op, limit=3)  # two chunks
    assert (op.state, op.succeeded, op.failed, op.skipped) == ("done", 3, 1, 0)
    failed = op.items.get(state="failed")
    assert failed.target_public_id == sources[1].public_id
    assert "Injected failure" in failed.reason and "trackingId" in failed.reason
    token = OrgToken.objects.get(org=sources[0].org)
    assert token.access_token not in failed.reason
    statuses = dict(DataSource.objects.values_list("pk", "status"))
    assert statuses[sources[1].pk] == "active"
    assert [statuses[s.pk] for s in (sources[0], sources[2], sources[3])] == ["disabled"] * 3
    disabled_by = AuditEvent.objects.filter(action=Action.DATASOURCE_DISABLED, outcome="ok")
    assert set(disabled_by.values_list("actor", flat=True)) == {operator_user.get_username()}
    assert AuditEvent.objects.filter(action=Action.BULK_FINISHED).count() == 1

    emulator.clear_faults()
    emulator.clear_requests_log()
    retry = services.bulk_operation_retry_failures(operation=op, user=operator_user)
    assert retry.retry_of == op and retry.total == 1
    assert list(retry.items.values_list("target_public_id", flat=True)) == [sources[1].public_id]
    retry = run_all(retry)
    assert (retry.succeeded, retry.failed) == (1, 0)
    assert len(emulator.requests_log(method="PUT")) == 1  # the failure only
    assert DataSource.objects.get(pk=sources[1].pk).status == "disabled"
    assert DataSource.objects.get(pk=sources[1].pk).error_message == "Planned maintenance"


@pytest.mark.django_db
def test_bulk_rotate_with_a_failing_item(sources, operator_user, emulator):
    fail_puts_to(emulator, sources[2])
    op = services.bulk_operation_start(
        kind=Kind.ROTATE, selection=pick(*sources), user=operator_user
    )
    op = run_all(op)
    assert (op.succeeded, op.failed) == (3, 1)
    assert op.items.get(state="failed").reason.startswith("rotation failed: Webex call failed")
    for ds in (sources[0], sources[1], sources[3]):
        assert rotated_events(ds) == 1
    assert rotated_events(sources[2]) == 0


@pytest.mark.django_db
def test_retry_refuses_without_failures_or_while_running(sources, operator_user, emulator):
    op = services.bulk_operation_start(
        kind=Kind.ROTATE, selection=pick(sources[0]), user=operator_user
    )
    with pytest.raises(ValidationError, match="Wait until"):
        services.bulk_operation_retry_failures(operation=op, user=operator_user)
    run_all(op)
    with pytest.raises(ValidationError, match="no failures"):
        services.bulk_operation_retry_failures(operation=op, user=operator_user)


@pytest.mark.django_db
def test_a_target_that_changed_since_the_start_is_skipped(sources, operator_user, emulator):
    op = services.bulk_operation_start(
        kind=Kind.ENABLE, selection=pick(*sources[:2]), user=operator_user
    )
    assert op.skipped == 2  # both active: nothing to enable
    op = services.bulk_operation_start(
        kind=Kind.DISABLE, selection=pick(*sources[:2]), params={"message": "m"}, user=operator_user
    )
    DataSource.objects.filter(pk=sources[0].pk).update(
        status=DataSource.Status.DISABLED, error_message="down"
    )
    DataSource.objects.filter(pk=sources[1].pk).update(deleted_at="2026-01-01T00:00:00Z")
    emulator.clear_requests_log()
    op = run_all(op)
    reasons = dict(op.items.values_list("target_public_id", "reason"))
    assert reasons == {
        sources[0].public_id: "already disabled",
        sources[1].public_id: "no longer exists",
    }
    assert (op.skipped, op.succeeded) == (2, 0)
    assert emulator.requests_log(method="PUT") == []


@pytest.mark.django_db
def test_a_crash_mid_run_resumes_with_the_pending_items_only(
    sources, operator_user, emulator, monkeypatch
):
    op = services.bulk_operation_start(
        kind=Kind.ROTATE, selection=pick(*sources), user=operator_user
    )
    real_apply, calls = services._apply, []

    def crash_on_third(op_, target, actor):
        calls.append(target.pk)
        if len(calls) == 3:
            raise RuntimeError("worker killed")
        return real_apply(op_, target, actor)

    monkeypatch.setattr(services, "_apply", crash_on_third)
    with pytest.raises(RuntimeError):
        services.bulk_operation_run(operation_id=op.pk)
    op.refresh_from_db()
    assert (op.state, op.succeeded, op.lease_until) == ("running", 2, None)
    monkeypatch.setattr(services, "_apply", real_apply)
    emulator.clear_requests_log()
    op = run_all(op)
    assert (op.state, op.succeeded, op.failed) == ("done", 4, 0)
    assert len(emulator.requests_log(method="PUT")) == 2  # the two not yet rotated
    assert [rotated_events(ds) for ds in sources] == [1, 1, 1, 1]


@pytest.mark.django_db
def test_an_item_applied_but_not_recorded_is_not_applied_again(
    sources, operator_user, emulator, monkeypatch
):
    op = services.bulk_operation_start(
        kind=Kind.ROTATE, selection=pick(*sources[:3]), user=operator_user
    )
    real_settle, calls = services._settle, []

    def crash_recording_the_second(op_, item, state, reason):
        calls.append(item.pk)
        if len(calls) == 2:
            raise RuntimeError("worker killed after the Webex call")
        return real_settle(op_, item, state, reason)

    monkeypatch.setattr(services, "_settle", crash_recording_the_second)
    with pytest.raises(RuntimeError):
        services.bulk_operation_run(operation_id=op.pk)
    monkeypatch.setattr(services, "_settle", real_settle)
    emulator.clear_requests_log()
    op = run_all(op)
    assert (op.succeeded, op.failed) == (3, 0)
    second = op.items.order_by("pk")[1]
    assert second.reason == "applied before an interruption"
    assert len(emulator.requests_log(method="PUT")) == 1  # the third only
    assert [rotated_events(ds) for ds in sources[:3]] == [1, 1, 1]


@pytest.mark.django_db
def test_a_held_lease_keeps_a_second_runner_out(sources, operator_user):
    op = services.bulk_operation_start(
        kind=Kind.ROTATE, selection=pick(sources[0]), user=operator_user
    )
    from django.utils import timezone

    BulkOperation.objects.filter(pk=op.pk).update(
        lease_until=timezone.now() + timezone.timedelta(minutes=1)
    )
    assert services.bulk_operation_run(operation_id=op.pk) is False
    assert BulkItem.objects.filter(operation=op, state="pending").count() == 1


@pytest.mark.django_db
def test_bulk_offboard_orgs(org, sources, operator_user, emulator):
    selection = Selection(target_type="org", public_ids=(org.public_id,))
    preview = services.bulk_preview(kind=Kind.OFFBOARD, selection=selection)
    assert (preview.total, preview.will_change) == (1, 1)
    op = services.bulk_operation_start(
        kind=Kind.OFFBOARD,
        selection=selection,
        params={"mode": "disable", "reason": "Contract ended"},
        user=operator_user,
    )
    op = run_all(op)
    assert (op.succeeded, op.failed) == (1, 0)
    org.refresh_from_db()
    assert org.status == CustomerOrg.Status.OFFBOARDED
    assert {d["status"] for d in emulator.state()["dataSources"]} == {"disabled"}
    # One writer: the portal's rows follow, each with its own audit event under its public id.
    rows = DataSource.objects.filter(org=org)
    assert not rows.filter(status="active", deleted_at__isnull=True).exists()
    disabled = AuditEvent.objects.filter(action="datasource.disabled", outcome="ok")
    assert sorted(disabled.values_list("target_id", flat=True)) == sorted(
        str(r.public_id) for r in rows
    )
    again = services.bulk_preview(kind=Kind.OFFBOARD, selection=selection)
    assert again.skipped == [("already offboarded", 1)]


# ------------------------------------------------------------------------- tasks
@pytest.mark.django_db
def test_the_task_runs_every_chunk_until_done(sources, operator_user, emulator, settings):
    from byods_portal.celery import app
    from operations import tasks

    settings.BULK_CHUNK_SIZE = 1
    op = services.bulk_operation_start(
        kind=Kind.ROTATE, selection=pick(*sources), user=operator_user
    )
    emulator.clear_requests_log()
    app.conf.task_always_eager = True
    try:
        assert tasks.run(op.pk) is True  # the first chunk; the rest queued (here: eagerly)
    finally:
        app.conf.task_always_eager = False
    op.refresh_from_db()
    assert (op.state, op.succeeded) == ("done", 4)
    assert len(emulator.requests_log(method="PUT")) == 4


@pytest.mark.django_db
def test_stalled_operations_are_queued_again(sources, operator_user, monkeypatch):
    import datetime as dt

    from django.utils import timezone

    from operations import tasks

    queued = []
    monkeypatch.setattr(tasks.run, "delay", queued.append)
    fresh = services.bulk_operation_start(
        kind=Kind.ROTATE, selection=pick(sources[0]), user=operator_user
    )
    stalled = services.bulk_operation_start(
        kind=Kind.ROTATE, selection=pick(sources[1]), user=operator_user
    )
    held = services.bulk_operation_start(
        kind=Kind.ROTATE, selection=pick(sources[2]), user=operator_user
    )
    old = timezone.now() - dt.timedelta(minutes=5)
    BulkOperation.objects.filter(pk__in=[stalled.pk, held.pk]).update(created_at=old)
    BulkOperation.objects.filter(pk=held.pk).update(
        state="running", lease_until=timezone.now() + dt.timedelta(minutes=1)
    )
    assert tasks.resume_stalled() == 1
    assert queued == [stalled.pk]
    assert fresh.pk not in queued


@pytest.mark.django_db
def test_an_item_that_keeps_crashing_fails_after_three_attempts(
    sources, operator_user, emulator, monkeypatch
):
    op = services.bulk_operation_start(
        kind=Kind.ROTATE, selection=pick(*sources[:2]), user=operator_user
    )
    real_apply = services._apply

    def poison(op_, target, actor):
        if target.pk == sources[0].pk:
            raise RuntimeError("a bug")
        return real_apply(op_, target, actor)

    monkeypatch.setattr(services, "_apply", poison)
    for _ in range(services.MAX_ATTEMPTS):
        with pytest.raises(RuntimeError):
            services.bulk_operation_run(operation_id=op.pk)
    op = run_all(op)
    assert (op.state, op.succeeded, op.failed) == ("done", 1, 1)
    assert op.items.get(state="failed").reason.startswith("interrupted 3 times")
    assert rotated_events(sources[1]) == 1


@pytest.mark.django_db
def test_bulk_item_under_429_says_webex_wait_and_tracking_id(sources, operator_user, emulator):
    emulator.set_faults(
        [
            {
                "method": "PUT",
                "pathRegex": f"^/v1/dataSources/{sources[0].webex_id}$",
                "kind": "status",
                "status": 429,
                "retryAfter": 30,
                "times": None,
            }
        ]
    )
    op = run_all(
        services.bulk_operation_start(
            kind=Kind.ROTATE, selection=pick(sources[0]), user=operator_user
        )
    )
    reason = op.items.get().reason
    ds = DataSource.objects.get(pk=sources[0].pk)
    assert reason.startswith("not rotated yet: Webex is rate-limiting (429): Webex asks us to wait")
    assert f"retried automatically at {ds.next_rotation_at:%H:%M:%S} UTC" in reason
    assert f"Webex trackingId: {ds.last_tracking_id}" in reason
