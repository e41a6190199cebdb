"""Every rule with a number that times the portal's work, in one place.

A frozen `Policy` is built from settings once (`policy()`); the functions below are pure: they
take the moment and the facts and return a moment or a verdict, so they are unit-tested
without a database (core/tests/test_policy.py) and used alike by the rotation engine, the
refresh, the selectors' SQL filters, the health rules, the alerts and offboarding.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
from dataclasses import dataclass

SECOND = dt.timedelta(seconds=1)


@dataclass(frozen=True)
class Policy:
    # Rotation: rotate after this share of the token's lifetime (a random point in the range
    # spreads rotations out), and in any case while at least `rotate_by_share` is left.
    rotate_at: tuple[float, float] = (0.5, 0.7)
    rotate_by_share: float = 0.3
    # At risk: less than this share of the lifetime left, or less than the floor.
    at_risk_share: float = 0.25
    at_risk_floor: dt.timedelta = dt.timedelta(0)
    # A failed rotation is retried after base * 2**(failures-1), capped, never later than
    # `retry_margin` before the token lapses and never sooner than `retry_min`.
    retry_base: dt.timedelta = dt.timedelta(seconds=30)
    retry_cap: dt.timedelta = dt.timedelta(minutes=15)
    retry_margin: dt.timedelta = dt.timedelta(seconds=30)
    retry_min: dt.timedelta = dt.timedelta(seconds=5)
    default_retry_after: dt.timedelta = dt.timedelta(seconds=15)  # a 429 without Retry-After
    # How long a worker may hold a data source (its claim, its call in flight), and how long
    # an unanswered call may still be applied at Webex after the client gave up on it.
    lease: dt.timedelta = dt.timedelta(seconds=300)
    settle: dt.timedelta = dt.timedelta(seconds=20)
    # "Rotate now" / "refresh now" within this long of the same work done: coalesced.
    single_flight: dt.timedelta = dt.timedelta(seconds=10)
    # Org tokens: refresh once `refresh_remaining` of the lifetime is left, at least every
    # `refresh_max_interval`; a failed refresh backs off 1, 2, 4 ... 60 minutes, never past
    # `refresh_margin` before expiry.
    refresh_remaining: float = 0.5
    refresh_max_interval: dt.timedelta = dt.timedelta(days=3)
    refresh_retry_cap: dt.timedelta = dt.timedelta(minutes=60)
    refresh_margin: dt.timedelta = dt.timedelta(minutes=5)
    # Offboarding: back-off between attempts (then hourly), and when a silent attempt stalls.
    offboard_retry_minutes: tuple[int, ...] = (1, 2, 4, 8, 15, 30, 60)
    offboard_attempt: dt.timedelta = dt.timedelta(minutes=15)
    # A JWS expiry from Webex more than this beyond now + the requested lifetime (or already
    # past) is not believed: clock skew at Webex or here (JWS_EXPIRY_SKEW_MARGIN_SECONDS).
    expiry_skew_margin: dt.timedelta = dt.timedelta(seconds=120)

    @classmethod
    def from_settings(cls) -> Policy:
        from django.conf import settings

        return cls(
            lease=dt.timedelta(seconds=settings.ROTATION_LEASE_SECONDS),
            settle=dt.timedelta(seconds=settings.WEBEX_READ_TIMEOUT),
            single_flight=dt.timedelta(seconds=settings.SINGLE_FLIGHT_SECONDS),
            at_risk_share=settings.ALERT_AT_RISK_SHARE,
            at_risk_floor=dt.timedelta(seconds=settings.ALERT_AT_RISK_FLOOR_SECONDS),
            refresh_remaining=settings.TOKEN_REFRESH_REMAINING_FRACTION,
            refresh_max_interval=dt.timedelta(days=settings.TOKEN_REFRESH_MAX_INTERVAL_DAYS),
            expiry_skew_margin=dt.timedelta(seconds=settings.JWS_EXPIRY_SKEW_MARGIN_SECONDS),
        )


@functools.cache
def policy() -> Policy:
    """The policy in force, built from settings on first use."""
    return Policy.from_settings()


def forget_policy(**_kwargs) -> None:
    """Settings changed (tests): build the policy again on next use."""
    policy.cache_clear()


# ------------------------------------------------------------------------- rotation
def next_rotation_at(
    *,
    expires_at: dt.datetime | None,
    lifetime_minutes: int,
    now: dt.datetime,
    p: Policy | None = None,
    rng: random.Random | None = None,
) -> dt.datetime:
    """When to rotate a token just issued: at a random share of its lifetime in `rotate_at`
    from now, no later than when `rotate_by_share` of it is left, never in the past."""
    p = p or policy()
    lifetime = dt.timedelta(minutes=lifetime_minutes)
    share = (rng or random).uniform(*p.rotate_at)
    candidate = now + lifetime * share
    if expires_at is not None:
        candidate = min(candidate, expires_at - lifetime * p.rotate_by_share)
    return max(candidate, now + SECOND)


def rotation_retry_at(
    *,
    failures: int,
    expires_at: dt.datetime | None,
    now: dt.datetime,
    p: Policy | None = None,
) -> dt.datetime:
    """After the `failures`-th failure in a row: exponential back-off, capped, planned before
    the token lapses (keeping `retry_margin`) and not sooner than `retry_min`."""
    p = p or policy()
    delay = min(p.retry_base * 2 ** max(failures - 1, 0), p.retry_cap)
    retry = now + delay
    if expires_at is not None:
        retry = max(min(retry, expires_at - p.retry_margin), now + p.retry_min)
    return retry


def rate_limited_until(
    *, retry_after: float | None, now: dt.datetime, p: Policy | None = None
) -> dt.datetime:
    """Webex said 429: come back when it said, or after the default when it did not."""
    p = p or policy()
    wait = dt.timedelta(seconds=retry_after) if retry_after else p.default_retry_after
    return now + wait


def retry_after_seconds(retry_after: float | None, p: Policy | None = None) -> int:
    """The Retry-After to pass on to our own callers."""
    p = p or policy()
    return int(retry_after or p.default_retry_after.total_seconds())


def lease_until(now: dt.datetime, p: Policy | None = None) -> dt.datetime:
    return now + (p or policy()).lease


def queue_slack(p: Policy | None = None) -> dt.timedelta:
    """How long a call written ahead may wait for a free thread: a fifth of the lease, added
    to the lease it takes, so a call that goes out still has the whole lease ahead of it."""
    return (p or policy()).lease / 5


def queued_lease_until(now: dt.datetime, p: Policy | None = None) -> dt.datetime:
    """The lease of a call written ahead of a pipeline (its own, plus the wait allowed)."""
    return lease_until(now, p) + queue_slack(p)


def settled_at(now: dt.datetime, p: Policy | None = None) -> dt.datetime:
    """A call that got no answer may still be applied at Webex until then."""
    return now + (p or policy()).settle


def coalesces(done_at: dt.datetime | None, now: dt.datetime, p: Policy | None = None) -> bool:
    """Is work finished at `done_at` recent enough to answer a "do it now" with "done"?"""
    return done_at is not None and now - done_at < (p or policy()).single_flight


@dataclass(frozen=True)
class ExpiryCheck:
    """A JWS expiry from Webex, checked: the value to schedule with, and why it was not
    believed ("ahead": beyond now + lifetime + margin; "past": already expired), or ""."""

    expires_at: dt.datetime | None
    skew: str = ""


def bounded_expiry(
    *,
    reported: dt.datetime | None,
    lifetime_minutes: int,
    now: dt.datetime,
    p: Policy | None = None,
) -> ExpiryCheck:
    """Never schedule with an expiry later than now + the lifetime asked for: min(reported,
    now + lifetime). A value beyond that by more than the margin, or already past, is flagged
    as clock skew. A past one is scheduled with now + lifetime too: rotating at once would
    only bring another past expiry on every sweep, hammering Webex while the alert asks a
    person to look."""
    p = p or policy()
    if reported is None:
        return ExpiryCheck(None)
    latest = now + dt.timedelta(minutes=lifetime_minutes)
    if reported <= now:
        return ExpiryCheck(latest, "past")
    if reported > latest + p.expiry_skew_margin:
        return ExpiryCheck(latest, "ahead")
    return ExpiryCheck(min(reported, latest))


# ------------------------------------------------------------------------- risk
def at_risk_window(lifetime_minutes: int, p: Policy | None = None) -> dt.timedelta:
    """A token with less than this left is at risk."""
    p = p or policy()
    return max(dt.timedelta(minutes=lifetime_minutes) * p.at_risk_share, p.at_risk_floor)


def at_risk_window_for(lifetime: dt.timedelta, p: Policy | None = None) -> dt.timedelta:
    """As `at_risk_window`, for a lifetime given as a duration (an org's access token)."""
    p = p or policy()
    return max(lifetime * p.at_risk_share, p.at_risk_floor)


def is_at_risk(
    *,
    expires_at: dt.datetime | None,
    lifetime_minutes: int,
    now: dt.datetime,
    p: Policy | None = None,
) -> bool:
    return expires_at is not None and expires_at - now < at_risk_window(lifetime_minutes, p)


# ------------------------------------------------------------------------- org tokens
def next_refresh_at(
    *, access_expires_at: dt.datetime, now: dt.datetime, p: Policy | None = None
) -> dt.datetime:
    """Refresh once `refresh_remaining` of what is left has passed, at least every
    `refresh_max_interval`."""
    p = p or policy()
    by_share = now + (access_expires_at - now) * (1 - p.refresh_remaining)
    return min(by_share, now + p.refresh_max_interval)


def refresh_retry_at(
    *,
    failures: int,
    retry_after: float | None,
    access_expires_at: dt.datetime | None,
    now: dt.datetime,
    p: Policy | None = None,
) -> dt.datetime:
    """After the `failures`-th failed refresh: 1, 2, 4 ... 60 minutes (longer if Webex said
    so), but before the token expires (keeping `refresh_margin`, and at least a minute)."""
    p = p or policy()
    delay = min(dt.timedelta(minutes=2 ** max(failures - 1, 0)), p.refresh_retry_cap)
    if retry_after:
        delay = max(delay, dt.timedelta(seconds=retry_after))
    retry = now + delay
    if access_expires_at is not None and retry > access_expires_at - p.refresh_margin:
        retry = max(now + dt.timedelta(minutes=1), access_expires_at - p.refresh_margin)
    return retry


# ------------------------------------------------------------------------- offboarding
def offboard_retry_at(*, attempts: int, now: dt.datetime, p: Policy | None = None) -> dt.datetime:
    """After the `attempts`-th attempt left work undone."""
    p = p or policy()
    minutes = p.offboard_retry_minutes[min(max(attempts, 1), len(p.offboard_retry_minutes)) - 1]
    return now + dt.timedelta(minutes=minutes)


def offboard_stalled_before(now: dt.datetime, p: Policy | None = None) -> dt.datetime:
    """An attempt started before this and silent since is stalled."""
    return now - (p or policy()).offboard_attempt
