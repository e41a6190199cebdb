"""GET /metrics: refused without the token, right for a fleet set up through the portal's own
services against the emulator, and a fixed number of queries whatever the fleet's size."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from byods_portal.heartbeats import beat_once
from byods_portal.tests.bulk import build
from datasources.services import datasource_disable, datasource_rotate
from datasources.tests.conftest import org, register  # noqa: F401 - shared fixtures
from stats.liveness import Role
from tenants.tests.conftest import SYSTEM, portal_app  # noqa: F401 - shared fixture
from webex.metrics import LEDGER

TOKEN = "metrics-token-for-tests-0123456789"
PUT = "PUT /v1/dataSources/{id}"


@pytest.fixture
def metrics_token(settings):
    settings.PORTAL_METRICS_TOKEN = TOKEN
    settings.PORTAL_AGGREGATE_CACHE_SECONDS = 0


def scrape(client) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of one scrape."""
    response = client.get(reverse("metrics"), headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


@pytest.mark.django_db
def test_it_does_not_exist_while_no_token_is_configured(client, settings):
    settings.PORTAL_METRICS_TOKEN = ""
    response = client.get(reverse("metrics"), headers={"Authorization": "Bearer anything"})
    assert response.status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["anonymous", "operator", "onboarding", "auditor"])
def test_it_wants_the_bearer_token_whoever_asks(client_for, persona, metrics_token):
    """A staff session is not enough: the scrape config holds the token, people do not."""
    client = client_for(persona)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        response = client.get(reverse("metrics"), headers=headers)
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
        assert TOKEN not in response.content.decode()
    assert scrape(client)  # and with it, whoever asks


@pytest.mark.django_db
def test_every_metric_has_the_right_value_for_a_seeded_fleet(
    client,
    metrics_token,
    register,  # noqa: F811
    org,  # noqa: F811
):
    LEDGER.drain()  # calls earlier tests in this process made and never drained
    now = timezone.now()
    sources = [register(url=f"https://rx.byods.example.com/feed/{i}") for i in range(3)]
    datasource_disable(ds=sources[2], message="Paused by the partner", actor=SYSTEM)
    for ds in sources[:2]:
        assert datasource_rotate(ds_id=ds.pk, force=True, actor=SYSTEM).outcome == "rotated"
    assert beat_once(role=Role.WORKER, name="celery@w1", started_at=now)  # drains the ledger
    assert beat_once(role=Role.SCHEDULER, name="beat@h:1", started_at=now, acting=True)

    m = scrape(client)
    for ds in sources:
        ds.refresh_from_db()
    first = min(ds.token_expires_at for ds in sources[:2])
    assert m[("byods_datasources", (("health", "healthy"),))] == 2
    assert m[("byods_datasources", (("health", "disabled"),))] == 1
    assert m[("byods_datasources", (("health", "expired"),))] == 0
    assert (
        abs(m[("byods_datasource_soonest_expiry_seconds", ())] - (first - now).total_seconds()) < 30
    )
    org.token.refresh_from_db()
    token_left = (org.token.access_expires_at - now).total_seconds()
    assert abs(m[("byods_org_token_soonest_expiry_seconds", ())] - token_left) < 30
    assert m[("byods_orgs", (("status", "active"),))] == 1
    assert m[("byods_orgs", (("status", "pending"),))] == 0
    assert m[("byods_rotations_total", (("outcome", "rotated"),))] == 2
    assert m[("byods_rotations_total", (("outcome", "failed"),))] == 0
    # three registrations (POST), one disable and two rotations (PUT), all answered 2xx
    assert m[("byods_webex_requests_total", (("endpoint", PUT), ("status", "200")))] == 3
    assert (
        m[("byods_webex_requests_total", (("endpoint", "POST /v1/dataSources"), ("status", "200")))]
        == 3
    )
    assert m[("byods_webex_request_duration_seconds_count", (("endpoint", PUT),))] == 3
    assert (
        m[("byods_webex_request_duration_seconds_bucket", (("endpoint", PUT), ("le", "+Inf")))] == 3
    )
    assert m[("byods_webex_request_duration_seconds_sum", (("endpoint", PUT),))] > 0
    assert m[("byods_alerts_open", (("kind", "token_at_risk"), ("severity", "warning")))] == 0
    assert m[("byods_alerts_open", (("kind", "no_worker"), ("severity", "critical")))] == 0
    assert m[("byods_scheduler_last_tick_timestamp_seconds", ())] == pytest.approx(
        now.timestamp(), abs=30
    )
    assert m[("byods_worker_last_heartbeat_timestamp_seconds", (("worker", "celery@w1"),))] > 0
    assert m[("byods_workers_alive", ())] == 1


@pytest.mark.django_db
def test_a_lapsed_feed_makes_the_soonest_expiry_negative(
    client,
    metrics_token,
    register,  # noqa: F811
):
    ds = register()
    ds.refresh_from_db()
    later = ds.token_expires_at + dt.timedelta(minutes=5)
    with time_machine.travel(later, tick=False):
        m = scrape(client)
    assert m[("byods_datasource_soonest_expiry_seconds", ())] == pytest.approx(-300, abs=1)
    assert m[("byods_datasources", (("health", "expired"),))] == 1


def count_queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        scrape(client)
    return len(ctx.captured_queries)


@pytest.mark.django_db
def test_its_cost_does_not_grow_with_the_fleet_or_its_history(client, metrics_token):
    app = build(orgs=34)  # about 100 data sources
    small = count_queries(client)
    build(orgs=3300, start=34, app=app)  # about 10,000
    assert count_queries(client) == small
    assert small <= 12
