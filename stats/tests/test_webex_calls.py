"""Draining a process's Webex call ledger into the tables that /metrics and deep health read."""

import datetime as dt

import pytest
import time_machine
from django.db import OperationalError

from stats import webex_calls
from stats.models import WebexCallCount, WebexCallMinute
from stats.webex_calls import webex_calls_flush, webex_health
from webex.metrics import LEDGER

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 12, 2, 12, 0, 30, tzinfo=dt.UTC)


def record(status: str, n: int = 1) -> None:
    for _ in range(n):
        LEDGER.record(method="PUT", path="/v1/dataSources/abc1", status=status, seconds=0.05)


def test_two_flushes_add_up_and_health_reads_the_last_five_minutes():
    LEDGER.drain()
    with time_machine.travel(T0, tick=False):
        record("200", 3)
        record("503")
        assert webex_calls_flush()
    with time_machine.travel(T0 + dt.timedelta(minutes=2), tick=False):
        record("200")
        record("transport_error")
        assert webex_calls_flush()
        health = webex_health()
    assert WebexCallCount.objects.get(endpoint="PUT /v1/dataSources/{id}", status="200").count == 4
    assert (health.ok, health.failed) == (4, 2)
    assert health.error_share == pytest.approx(2 / 6)
    assert health.last_ok_at == T0 + dt.timedelta(minutes=2)
    with time_machine.travel(T0 + dt.timedelta(minutes=9), tick=False):
        later = webex_health()
    assert (later.ok, later.failed, later.error_share) == (0, 0, None)
    assert later.last_ok_at == T0 + dt.timedelta(minutes=2)  # still known


def test_counts_survive_a_database_that_refuses_them(monkeypatch):
    LEDGER.drain()
    record("200", 2)

    def refuse(drained):
        raise OperationalError("the database went away")

    monkeypatch.setattr(webex_calls, "webex_calls_store", refuse)
    assert webex_calls_flush() is False
    monkeypatch.undo()
    assert webex_calls_flush() is True
    assert WebexCallCount.objects.get(status="200").count == 2


def test_minutes_older_than_a_day_are_dropped():
    LEDGER.drain()
    with time_machine.travel(T0, tick=False):
        record("200")
        webex_calls_flush()
    with time_machine.travel(T0 + dt.timedelta(days=1, minutes=5), tick=False):
        record("200")
        webex_calls_flush()
    assert WebexCallMinute.objects.count() == 1
