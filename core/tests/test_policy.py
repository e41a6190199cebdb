"""The timing rules, without a database: each function at its edges."""

import datetime as dt
import random

import pytest

from core import policy as rules
from core.policy import Policy

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
P = Policy()


def minutes(n: float) -> dt.timedelta:
    return dt.timedelta(minutes=n)


@pytest.mark.parametrize("seed", range(20))
def test_next_rotation_falls_between_half_and_seventy_percent_of_the_lifetime(seed):
    at = rules.next_rotation_at(
        expires_at=NOW + minutes(60), lifetime_minutes=60, now=NOW, p=P, rng=random.Random(seed)
    )
    assert NOW + minutes(30) <= at <= NOW + minutes(42)


def test_next_rotation_leaves_thirty_percent_of_a_token_that_was_issued_earlier():
    # Only 20 of its 60 minutes left: rotate when 18 minutes (30 %) are left, i.e. in 2.
    at = rules.next_rotation_at(
        expires_at=NOW + minutes(20), lifetime_minutes=60, now=NOW, p=P, rng=random.Random(1)
    )
    assert at == NOW + minutes(2)


def test_next_rotation_is_never_in_the_past():
    at = rules.next_rotation_at(expires_at=NOW, lifetime_minutes=60, now=NOW, p=P)
    assert at == NOW + dt.timedelta(seconds=1)


@pytest.mark.parametrize(
    ("failures", "delay"),
    [(1, 30), (2, 60), (3, 120), (5, 480), (6, 900), (20, 900)],
)
def test_rotation_retry_backs_off_exponentially_to_the_cap(failures, delay):
    at = rules.rotation_retry_at(failures=failures, expires_at=None, now=NOW, p=P)
    assert at == NOW + dt.timedelta(seconds=delay)


def test_rotation_retry_is_planned_before_the_token_lapses_but_not_at_once():
    soon = NOW + minutes(2)
    assert rules.rotation_retry_at(failures=6, expires_at=soon, now=NOW, p=P) == (
        soon - dt.timedelta(seconds=30)
    )
    lapsing = NOW + dt.timedelta(seconds=10)
    assert rules.rotation_retry_at(failures=1, expires_at=lapsing, now=NOW, p=P) == (
        NOW + dt.timedelta(seconds=5)
    )


def test_rate_limited_waits_for_retry_after_or_the_default():
    assert rules.rate_limited_until(retry_after=7, now=NOW, p=P) == NOW + dt.timedelta(seconds=7)
    assert rules.rate_limited_until(retry_after=None, now=NOW, p=P) == NOW + dt.timedelta(
        seconds=15
    )
    assert rules.retry_after_seconds(None, P) == 15 and rules.retry_after_seconds(2.5, P) == 2


@pytest.mark.parametrize(
    ("left", "lifetime", "floor", "at_risk"),
    [
        (minutes(16), 60, 0, False),  # a quarter of the lifetime (ALERT_AT_RISK_SHARE)
        (minutes(14.9), 60, 0, True),
        (minutes(7.4), 30, 0, True),  # a 30 min JWS: 7.5 min ahead
        (minutes(6 * 60 + 1), 24 * 60, 0, False),  # a 24 h token: 6 h ahead, not minutes
        (minutes(5 * 60 + 59), 24 * 60, 0, True),
        (minutes(25), 60, 30, True),  # the floor wins over the share
        (minutes(31), 60, 30, False),
        (minutes(-1), 60, 0, True),  # lapsed is at risk too (health says "expired" first)
    ],
)
def test_at_risk_is_a_share_of_the_lifetime_or_the_floor(left, lifetime, floor, at_risk):
    p = Policy(at_risk_floor=minutes(floor))
    assert rules.is_at_risk(expires_at=NOW + left, lifetime_minutes=lifetime, now=NOW, p=p) is (
        at_risk
    )


def test_no_expiry_is_not_at_risk():
    assert not rules.is_at_risk(expires_at=None, lifetime_minutes=60, now=NOW, p=P)


def test_single_flight_window():
    assert rules.coalesces(NOW - dt.timedelta(seconds=9), NOW, P)
    assert not rules.coalesces(NOW - dt.timedelta(seconds=10), NOW, P)
    assert not rules.coalesces(None, NOW, P)
    assert not rules.coalesces(NOW, NOW, Policy(single_flight=dt.timedelta(0)))


def test_leases():
    assert rules.lease_until(NOW, P) == NOW + dt.timedelta(seconds=300)
    assert rules.settled_at(NOW, P) == NOW + dt.timedelta(seconds=20)


def test_refresh_at_half_of_what_is_left_but_at_least_every_three_days():
    assert rules.next_refresh_at(access_expires_at=NOW + minutes(60), now=NOW, p=P) == (
        NOW + minutes(30)
    )
    assert rules.next_refresh_at(access_expires_at=NOW + dt.timedelta(days=14), now=NOW, p=P) == (
        NOW + dt.timedelta(days=3)
    )


@pytest.mark.parametrize(
    ("failures", "retry_after", "delay"),
    [(1, None, 1), (2, None, 2), (7, None, 60), (12, None, 60), (1, 600, 10)],
)
def test_refresh_retry_backs_off_in_minutes(failures, retry_after, delay):
    at = rules.refresh_retry_at(
        failures=failures, retry_after=retry_after, access_expires_at=None, now=NOW, p=P
    )
    assert at == NOW + minutes(delay)


def test_refresh_retry_stays_five_minutes_before_expiry_and_at_least_a_minute_away():
    expires = NOW + minutes(20)
    at = rules.refresh_retry_at(
        failures=7, retry_after=None, access_expires_at=expires, now=NOW, p=P
    )
    assert at == expires - minutes(5)
    at = rules.refresh_retry_at(
        failures=1, retry_after=None, access_expires_at=NOW + minutes(2), now=NOW, p=P
    )
    assert at == NOW + minutes(1)


@pytest.mark.parametrize(("attempts", "wait"), [(0, 1), (1, 1), (3, 4), (7, 60), (30, 60)])
def test_offboarding_backs_off_then_hourly(attempts, wait):
    assert rules.offboard_retry_at(attempts=attempts, now=NOW, p=P) == NOW + minutes(wait)


def test_an_offboarding_attempt_stalls_after_fifteen_minutes():
    assert rules.offboard_stalled_before(NOW, P) == NOW - minutes(15)


def test_the_policy_follows_settings(settings):
    settings.ROTATION_LEASE_SECONDS = 42
    settings.SINGLE_FLIGHT_SECONDS = 3
    assert rules.policy().lease == dt.timedelta(seconds=42)
    assert rules.policy().single_flight == dt.timedelta(seconds=3)


def test_a_call_written_ahead_may_wait_a_fifth_of_the_lease_and_still_has_all_of_it():
    p = Policy(lease=dt.timedelta(minutes=5))
    now = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)
    assert rules.queue_slack(p) == dt.timedelta(minutes=1)
    assert rules.queued_lease_until(now, p) == now + dt.timedelta(minutes=6)


def test_the_floor_and_share_come_from_settings(settings):
    settings.ALERT_AT_RISK_SHARE = 0.5
    settings.ALERT_AT_RISK_FLOOR_SECONDS = 600
    rules.forget_policy()
    try:
        p = rules.policy()
        assert p.at_risk_share == 0.5 and p.at_risk_floor == minutes(10)
        assert rules.at_risk_window(10, p) == minutes(10)  # the floor wins for short tokens
        assert rules.at_risk_window(60, p) == minutes(30)
    finally:
        rules.forget_policy()
