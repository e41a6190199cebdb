"""Expiry sanity: a JWS expiry from Webex beyond now + lifetime (plus a margin), or already past,
is flagged as clock skew on the data source, shown on its page, alerted, and the schedule uses
the bounded value. The emulator's clock is moved 14 days ahead, as in issue 16."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from alerts.models import Alert, Kind
from alerts.services import alerts_evaluate
from core import policy as rules
from datasources import tasks
from datasources.models import DataSource

from .conftest import SYSTEM

DAY = 86400
SKEWED = (
    "Webex reported an expiry 14 days away for a 30-minute token",
    "clock skew suspected; scheduling with 30 min",
)
NOW = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)


# ------------------------------------------------------------------------- the rule
@pytest.mark.parametrize(
    ("reported", "expected", "skew"),
    [
        (NOW + dt.timedelta(minutes=29), NOW + dt.timedelta(minutes=29), ""),
        (NOW + dt.timedelta(minutes=31), NOW + dt.timedelta(minutes=30), ""),  # within margin
        (NOW + dt.timedelta(minutes=33), NOW + dt.timedelta(minutes=30), "ahead"),
        (NOW + dt.timedelta(days=14), NOW + dt.timedelta(minutes=30), "ahead"),
        (NOW - dt.timedelta(seconds=1), NOW + dt.timedelta(minutes=30), "past"),
        (None, None, ""),
    ],
)
def test_an_expiry_is_bounded_by_now_plus_the_lifetime(reported, expected, skew):
    p = rules.Policy(expiry_skew_margin=dt.timedelta(seconds=120))
    check = rules.bounded_expiry(reported=reported, lifetime_minutes=30, now=NOW, p=p)
    assert (check.expires_at, check.skew) == (expected, skew)


def test_the_margin_is_a_setting(settings):
    settings.JWS_EXPIRY_SKEW_MARGIN_SECONDS = 600
    reported = NOW + dt.timedelta(minutes=38)
    assert rules.bounded_expiry(reported=reported, lifetime_minutes=30, now=NOW).skew == ""


# ------------------------------------------------------------------------- end to end
def due_now(ds) -> None:
    DataSource.objects.filter(pk=ds.pk).update(
        next_rotation_at=timezone.now() - dt.timedelta(seconds=1)
    )


def assert_flagged_and_bounded(ds, before: dt.datetime) -> None:
    ds.refresh_from_db()
    after = timezone.now()
    assert ds.expiry_skew_since is not None
    assert all(part in ds.expiry_skew_detail for part in SKEWED), ds.expiry_skew_detail
    assert ds.expiry_reported_at > after + dt.timedelta(days=13)
    # the schedule uses min(reported, now + lifetime), not the 14 days
    assert before < ds.token_expires_at <= after + dt.timedelta(minutes=30)
    assert ds.next_rotation_at < ds.token_expires_at


@pytest.mark.django_db(transaction=True)
def test_the_sweep_flags_a_clock_jump_and_schedules_with_the_lifetime(
    register, emulator, settings, operator_client
):
    from byods_portal.celery import app

    app.conf.task_always_eager = True
    try:
        ds = register(token_lifetime_minutes=30)
        assert ds.expiry_skew_since is None and ds.expiry_skew_detail == ""
        emulator.advance_clock(14 * DAY)
        due_now(ds)
        before = timezone.now()
        assert tasks.rotation_sweep() == 1
    finally:
        app.conf.task_always_eager = False
    assert_flagged_and_bounded(ds, before)

    alerts_evaluate()
    alert = Alert.objects.get(kind=Kind.CLOCK_SKEW, resolved_at__isnull=True)
    assert alert.datasource_id == ds.pk and SKEWED[0] in alert.summary

    page = operator_client.get(reverse("datasources:detail", args=[ds.public_id]))
    html = page.content.decode()
    assert "Expiry out of bounds." in html and all(part in html for part in SKEWED)
    assert "14 d" not in html.split("Token expires", 1)[1].split("</dd>", 1)[0]

    # The alert itself says what is wrong and what to do, not a generic title.
    alerts_page = operator_client.get(
        reverse("alerts:detail", args=[alert.public_id])
    ).content.decode()
    assert "Clock skew suspected for" in alerts_page and SKEWED[0] in alerts_page
    assert "Check the clocks" in alerts_page

    # Webex's clock back in line: the next sane expiry clears the flag and the alert resolves.
    emulator.advance_clock(-14 * DAY)
    due_now(ds)
    app.conf.task_always_eager = True
    try:
        assert tasks.rotation_sweep() == 1
    finally:
        app.conf.task_always_eager = False
    ds.refresh_from_db()
    assert ds.expiry_skew_since is None and ds.expiry_reported_at is None
    assert ds.expiry_skew_detail == ""
    alerts_evaluate()
    assert Alert.objects.get(pk=alert.pk).resolved_at is not None


@pytest.mark.django_db
def test_rotate_now_flags_a_clock_jump_on_the_page(register, emulator, onboarding_client):
    ds = register(token_lifetime_minutes=30)
    emulator.advance_clock(14 * DAY)
    before = timezone.now()
    page = onboarding_client.post(
        reverse("datasources:rotate", args=[ds.public_id]), follow=True
    ).content.decode()
    assert f"Rotated the JWS of {ds.url}." in page
    assert "Expiry out of bounds." in page and all(part in page for part in SKEWED)
    assert_flagged_and_bounded(ds, before)


@pytest.mark.django_db
def test_an_expiry_already_past_is_flagged_too(register, emulator):
    from datasources.services import datasource_rotate

    ds = register(token_lifetime_minutes=30)
    emulator.advance_clock(-DAY)  # Webex's clock a day behind: its 30 minutes ended long ago
    before = timezone.now()
    assert datasource_rotate(ds_id=ds.pk, force=True, actor=SYSTEM).outcome == "rotated"
    ds.refresh_from_db()
    assert "Webex reported an expiry 23 hours in the past for a 30-minute token" in (
        ds.expiry_skew_detail
    )
    assert before + dt.timedelta(minutes=29) < ds.token_expires_at
    assert ds.next_rotation_at > before  # not a rotation on every sweep


@pytest.mark.django_db
def test_registering_under_a_skewed_clock_is_flagged(register, emulator):
    emulator.advance_clock(14 * DAY)
    before = timezone.now()
    ds = register(token_lifetime_minutes=30)
    assert_flagged_and_bounded(ds, before)


@pytest.mark.django_db
def test_the_api_shows_the_flag(register, emulator, api_client_for):
    emulator.advance_clock(14 * DAY)
    ds = register(token_lifetime_minutes=30)
    body = api_client_for("auditor").get(f"/api/v1/datasources/{ds.public_id}/").json()
    assert SKEWED[0] in body["expiry_skew_detail"] and body["expiry_skew_since"]
    assert body["expiry_reported_at"] > body["token_expires_at"]
