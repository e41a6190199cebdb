"""Workers and schedulers say they are alive; the portal notices when they stop.

Heartbeats are written by the processes' own code paths (`beat_once`, the scheduler's
`tick`), and time moves with time_machine, never with sleeps."""

import datetime as dt
import io

import pytest
import time_machine
from celery.beat import ScheduleEntry
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from alerts import services as alert_services
from alerts.models import Alert, AlertDelivery, Kind
from audit.context import Actor
from audit.models import AuditEvent
from byods_portal.celery import app as celery_app
from byods_portal.heartbeats import beat_once
from byods_portal.scheduler import LeasedScheduler
from stats.liveness import Role, lease_hold, lease_release, liveness
from stats.models import SchedulerLease, ServiceHeartbeat

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)
TOKEN = "metrics-token-for-tests-0123456789"


def worker_beats(name="celery@w1"):
    assert beat_once(role=Role.WORKER, name=name, started_at=T0)


class RecordingScheduler(LeasedScheduler):
    """The real scheduler, whose sends are recorded instead of reaching the broker."""

    def __init__(self, *args, **kwargs):
        self.sent: list[str] = []
        super().__init__(*args, **kwargs)

    def apply_entry(self, entry, producer=None):
        self.sent.append(entry.name)


def scheduler(tmp_path, name: str) -> RecordingScheduler:
    sched = RecordingScheduler(
        app=celery_app, schedule_filename=str(tmp_path / f"{name}.db"), lazy=True
    )
    sched.holder = f"beat@test:{name}"
    sched.setup_schedule()
    sched.schedule.clear()
    sched.schedule["sweep"] = ScheduleEntry(
        name="sweep", task="datasources.rotation_sweep", schedule=1.0, app=celery_app
    )
    return sched


def tick(sched: RecordingScheduler) -> None:
    sched._next_check = 0  # check in now (its clock is monotonic, which time_machine leaves)
    sched.tick()


# --- the lease ------------------------------------------------------------------------------
def test_one_holder_at_a_time_and_a_lapsed_lease_goes_to_the_next_asker():
    with time_machine.travel(T0, tick=False):
        assert lease_hold(holder="a", seconds=30)
        assert not lease_hold(holder="b", seconds=30)
        assert lease_hold(holder="a", seconds=30)  # renewal
    with time_machine.travel(T0 + dt.timedelta(seconds=29), tick=False):
        assert not lease_hold(holder="b", seconds=30)  # a renewed at T0: until T0+30
    with time_machine.travel(T0 + dt.timedelta(seconds=31), tick=False):
        assert lease_hold(holder="b", seconds=30)
        assert not lease_hold(holder="a", seconds=30)
    assert SchedulerLease.objects.get().holder == "b"


def test_a_released_lease_is_taken_at_once():
    with time_machine.travel(T0, tick=False):
        assert lease_hold(holder="a", seconds=30)
        lease_release(holder="a")
    with time_machine.travel(T0 + dt.timedelta(seconds=1), tick=False):
        assert lease_hold(holder="b", seconds=30)


# --- two schedulers, one acting -------------------------------------------------------------
def test_only_the_lease_holder_sends_and_a_standby_takes_over_when_it_goes_silent(
    tmp_path, settings
):
    settings.SCHEDULER_LEASE_SECONDS = 30
    with time_machine.travel(T0, tick=False):
        first, second = scheduler(tmp_path, "one"), scheduler(tmp_path, "two")
        tick(first)
        tick(second)
    with time_machine.travel(T0 + dt.timedelta(seconds=5), tick=False):
        tick(first)
        tick(second)
    assert first.acting and not second.acting
    assert first.sent and not second.sent
    beats = {h.name: h.acting for h in ServiceHeartbeat.objects.filter(role=Role.SCHEDULER)}
    assert beats == {"beat@test:one": True, "beat@test:two": False}

    # The first one dies (it stops ticking). Within its lease the standby keeps waiting...
    with time_machine.travel(T0 + dt.timedelta(seconds=25), tick=False):
        tick(second)
        assert not second.acting and not second.sent
    # ...and once the lease lapsed, it takes over and sends what fell due.
    with time_machine.travel(T0 + dt.timedelta(seconds=36), tick=False):
        tick(second)
    assert second.acting and second.sent == ["sweep"]
    assert SchedulerLease.objects.get().holder == "beat@test:two"


def test_a_scheduler_that_loses_the_database_stops_sending(tmp_path, monkeypatch):
    with time_machine.travel(T0, tick=False):
        sched = scheduler(tmp_path, "one")
        tick(sched)
    assert sched.acting
    from django.db import OperationalError

    def away(**kwargs):
        raise OperationalError("server closed the connection")

    monkeypatch.setattr("stats.liveness.lease_hold", away)
    sched.sent.clear()
    with time_machine.travel(T0 + dt.timedelta(seconds=5), tick=False):
        tick(sched)
    assert not sched.acting and sched.sent == []


# --- deep health ----------------------------------------------------------------------------
def deep(client, **headers):
    return client.get(reverse("healthz"), {"deep": "1"}, headers=headers)


@pytest.fixture
def alive(tmp_path):
    """A worker and the acting scheduler, both beating at T0."""
    with time_machine.travel(T0, tick=False):
        worker_beats()
        tick(scheduler(tmp_path, "one"))


@pytest.mark.parametrize(
    ("persona", "status"),
    [("operator", 200), ("onboarding", 200), ("auditor", 200), ("anonymous", 401)],
)
def test_the_deep_check_is_for_staff_and_for_the_metrics_token(
    client_for, persona, status, alive, settings
):
    settings.PORTAL_METRICS_TOKEN = TOKEN
    with time_machine.travel(T0 + dt.timedelta(seconds=10), tick=False):
        response = deep(client_for(persona))
        assert response.status_code == status
        anonymous = client_for("anonymous")
        assert deep(anonymous, Authorization=f"Bearer {TOKEN}").status_code == 200
        assert deep(anonymous, Authorization="Bearer wrong").status_code == 401
    # the plain check stays open to load balancers
    assert client_for("anonymous").get(reverse("healthz")).status_code == 200


def test_the_deep_check_names_workers_the_scheduler_and_webex(operator_client, alive):
    with time_machine.travel(T0 + dt.timedelta(seconds=10), tick=False):
        body = deep(operator_client).json()
    checks = body["checks"]
    assert body["status"] == "ok"
    assert checks["workers"]["live"] == 1
    assert checks["workers"]["workers"][0]["name"] == "celery@w1"
    assert checks["workers"]["workers"][0]["age_seconds"] == 10.0
    assert checks["scheduler"]["lease_holder"] == "beat@test:one"
    assert checks["scheduler"]["age_seconds"] == 10.0
    assert {"last_success", "calls_5m", "error_share_5m"} <= checks["webex"].keys()


def test_the_deep_check_is_503_when_the_scheduler_is_silent(operator_client, alive, settings):
    settings.PORTAL_SCHEDULER_SILENT_SECONDS = 90
    with time_machine.travel(T0 + dt.timedelta(seconds=100), tick=False):
        worker_beats()  # workers are fine
        response = deep(operator_client)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down" and body["checks"]["scheduler"]["ok"] is False
    assert "silent: last tick" in body["checks"]["scheduler"]["detail"]
    assert body["checks"]["workers"]["ok"] is True


def test_the_deep_check_is_503_when_no_worker_is_alive(operator_client, alive, tmp_path):
    with time_machine.travel(T0 + dt.timedelta(seconds=61), tick=False):
        tick(scheduler(tmp_path, "one"))  # the scheduler is fine
        response = deep(operator_client)
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["workers"]["ok"] is False and checks["workers"]["live"] == 0
    assert "none alive: last heartbeat 61 s ago" in checks["workers"]["detail"]
    assert checks["scheduler"]["ok"] is True


def test_the_dashboard_services_panel_says_the_same_with_times(operator_client, alive):
    with time_machine.travel(T0 + dt.timedelta(seconds=75), tick=False):
        page = operator_client.get(reverse("dashboard")).content.decode()
    assert "none alive: last heartbeat 75 s ago" in page
    assert "beat@test:one ticked 75 s ago" in page


# --- the liveness alerts, opened by the processes that see the other side go quiet ---------
@pytest.fixture
def mail_channel(db):
    return alert_services.alertchannel_create(
        team="On-call",
        email_recipients=["oncall@example.com"],
        webhook_url="",
        kinds=[Kind.SCHEDULER_SILENT, Kind.NO_WORKER],
        actor=Actor.system("test-setup"),
    )


def test_a_worker_opens_and_sends_the_scheduler_alert_within_two_minutes(alive, mail_channel):
    with time_machine.travel(T0 + dt.timedelta(seconds=105), tick=False):
        worker_beats()
    # (it was also open for the instant at T0 between the worker's and the scheduler's beat)
    alert = Alert.objects.get(kind=Kind.SCHEDULER_SILENT, resolved_at__isnull=True)
    assert alert.org is None and alert.severity == "critical"
    assert "No scheduler has sent tasks" in alert.summary
    assert [m.subject for m in mail.outbox] == [
        "[BYODS ALERT] Scheduler silent: the portal (critical)",
    ]
    assert AlertDelivery.objects.get(alert=alert).sent_at is not None
    assert AuditEvent.objects.filter(action="alert.opened", target_id=alert.public_id).exists()
    # Another worker's beat does not open a second one; the scheduler's return resolves it.
    with time_machine.travel(T0 + dt.timedelta(seconds=120), tick=False):
        worker_beats("celery@w2")
    assert Alert.objects.get(kind=Kind.SCHEDULER_SILENT, resolved_at__isnull=True) == alert


def test_the_scheduler_opens_the_no_worker_alert_and_resolves_it_when_one_returns(
    alive, mail_channel, tmp_path
):
    sched = scheduler(tmp_path, "one")
    with time_machine.travel(T0 + dt.timedelta(seconds=70), tick=False):
        tick(sched)
    alert = Alert.objects.get(kind=Kind.NO_WORKER, resolved_at__isnull=True)
    assert alert.is_open and "No worker has beaten" in alert.summary
    with time_machine.travel(T0 + dt.timedelta(seconds=80), tick=False):
        worker_beats()
        tick(sched)
    alert.refresh_from_db()
    assert alert.resolved_at is not None
    assert [m.subject.split("]")[0] for m in mail.outbox] == ["[BYODS ALERT", "[BYODS RESOLVED"]


def test_the_minute_evaluation_leaves_the_liveness_alerts_to_the_processes(alive):
    with time_machine.travel(T0 + dt.timedelta(seconds=200), tick=False):
        worker_beats()
        assert Alert.objects.filter(kind=Kind.SCHEDULER_SILENT, resolved_at=None).exists()
        alert_services.alerts_evaluate()
        assert Alert.objects.filter(kind=Kind.SCHEDULER_SILENT, resolved_at=None).exists()


def test_a_heartbeat_survives_a_database_error(monkeypatch):
    from django.db import OperationalError

    def away(**kwargs):
        raise OperationalError("server closed the connection")

    monkeypatch.setattr("stats.liveness.heartbeat_record", away)
    assert beat_once(role=Role.WORKER, name="celery@w1", started_at=T0) is False


# --- heartbeat_check (container health checks) ----------------------------------------------
def test_heartbeat_check_exits_by_freshness(alive):
    out = io.StringIO()
    with time_machine.travel(T0 + dt.timedelta(seconds=30), tick=False):
        call_command("heartbeat_check", "worker", stdout=out)
        call_command("heartbeat_check", "scheduler", stdout=out)
        with pytest.raises(CommandError, match="no heartbeat from celery@other"):
            call_command("heartbeat_check", "worker", "--name", "celery@other")
    assert "celery@w1" in out.getvalue()
    stale = time_machine.travel(T0 + dt.timedelta(seconds=61), tick=False)
    with stale, pytest.raises(CommandError, match="no heartbeat from any worker in the last 60"):
        call_command("heartbeat_check", "worker")


def test_liveness_reads_a_fixed_number_of_queries(alive, django_assert_num_queries):
    with time_machine.travel(T0, tick=False), django_assert_num_queries(2):
        seen = liveness(now=timezone.now())
    assert len(seen.workers) == 1


def _heartbeat_threads() -> list:
    import threading

    return [t for t in threading.enumerate() if t.name == "portal-heartbeat" and t.is_alive()]


def test_a_worker_that_stops_stops_beating(transactional_db):
    """An in-process worker (as the browser tests run one) ends with a terminate, not a stop:
    its heartbeat thread must end too, or the portal would go on seeing a worker that is gone
    (and `rotate_encryption_keys` would wait on its key ring)."""
    import uuid

    from celery.contrib.testing.worker import start_worker

    before = len(_heartbeat_threads())
    queue = f"liveness-test-{uuid.uuid4().hex[:8]}"
    with start_worker(celery_app, queues=[queue], perform_ping_check=False, shutdown_timeout=30):
        assert len(_heartbeat_threads()) == before + 1
    assert len(_heartbeat_threads()) == before
