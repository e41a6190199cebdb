"""Issue 16's outages walked in a real browser: the emulator fails every data source PUT and
the portal's clock moves past the JWS expiry (time_machine, never sleeps); a silenced alert
wakes when it escalates; a data source disabled at Webex behind the portal's back reads
"not flowing"; only operators may snooze or silence.

State is set up through the portal's pages, services and tasks (the ones beat runs: alert
evaluation, reconciliation, run eagerly here) and the emulator's fault injection and Webex API.
Besides the per-page screenshots of the `_pages` fixture, the PUT-500 storm saves
dashboard-mid-outage.png, alert-list.png and datasource-page.png in test-artifacts/screenshots/.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from contextlib import contextmanager

import pytest
import time_machine
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from alerts import services as alert_services
from alerts import tasks as alert_tasks
from alerts.models import Alert, Kind
from datasources import tasks as datasource_tasks
from datasources.models import DataSource
from datasources.services import datasource_register
from tenants.models import OrgToken
from tenants.tests.conftest import SYSTEM
from webex.client import WebexClient
from webex.types import DataSourceRequest

from .conftest import SCREENSHOTS

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SCHEMA = "5397013b-7920-4ffc-807c-e8a3e0a18f43"
FEED = "https://rx.byods.example.com/feed"
# Every data source PUT (registration is a POST, so it still works) answers 500, forever.
PUT_STORM = [{"method": "PUT", "pathRegex": "dataSources", "kind": "status", "status": 500}]
AT_RISK = re.compile(r"Data stops flowing in \d+ min for Globex Retail")
STOPPED = re.compile(r"Data stopped flowing \d+ min ago for Globex Retail")


@pytest.fixture
def feed(active_org) -> DataSource:
    """A data source with a 30-minute JWS: at risk 7.5 minutes before it lapses."""
    ds = datasource_register(
        org=active_org,
        schema_id=SCHEMA,
        url=FEED,
        audience="byods-rx",
        subject="globex-voice",
        token_lifetime_minutes=30,
        actor=SYSTEM,
    )
    return DataSource.objects.get(pk=ds.pk)


@pytest.fixture
def eager_tasks(settings):
    """The tasks the beat runs, and the notices they queue, run at once in this process (the
    notices land in Django's locmem outbox, `mail.outbox`)."""
    from byods_portal.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = True
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = False, False


@contextmanager
def portal_clock_at(moment: dt.datetime):
    """The portal (this process: the test, the live server's thread) lives at `moment` and
    time runs on from there; the browser and the emulator keep their own clocks."""
    with time_machine.travel(moment, tick=True):
        yield


def evaluate_alerts() -> dict[str, int]:
    """What beat runs every minute: match alerts to the state, queue (here: send) notices."""
    return alert_tasks.evaluate()


def notices(kind_label: str) -> list[str]:
    return [str(m.subject) for m in mail.outbox if f"] {kind_label}: " in str(m.subject)]


def alert_row(page, kind_label: str):
    return page.locator("tbody tr").filter(has=page.get_by_role("link", name=kind_label))


def shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def add_mail_channel_on_the_page(page, portal_url) -> None:
    page.goto(portal_url("alerts:channel_create"))
    page.get_by_label("Team", exact=True).fill("Rotations on call")
    page.get_by_label("E-mail recipients").fill("oncall@example.com")
    expect(page.get_by_label("Token at risk")).to_be_checked()  # every kind, by default
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Channel Rotations on call added.")).to_be_visible()


# ------------------------------------------------------------------------- 1. PUT-500 storm
def test_a_put_500_storm_warns_then_turns_critical_with_a_second_notice(
    page_for, portal_url, feed, emulator, eager_tasks
):
    page = page_for("operator")
    add_mail_channel_on_the_page(page, portal_url)
    emulator.set_faults(PUT_STORM)
    expires = feed.token_expires_at
    assert expires is not None

    # 20 minutes before the lapse the operator rotates by hand: Webex answers 500. A one-off
    # failure far from the deadline is retried by itself: no alert yet.
    with portal_clock_at(expires - dt.timedelta(minutes=20)):
        page.goto(portal_url("datasources:detail", feed.public_id))
        page.get_by_role("button", name="Rotate now").click()
        expect(page.get_by_text("Rotation failed:")).to_be_visible()
        assert evaluate_alerts()["opened"] == 0
    assert mail.outbox == []

    # 6.5 minutes before the lapse: at risk. A warning that says when data stops flowing,
    # on the dashboard and the alert list, and one notice.
    with portal_clock_at(expires - dt.timedelta(minutes=6, seconds=30)):
        page.goto(portal_url("datasources:detail", feed.public_id))
        page.get_by_role("button", name="Rotate now").click()  # Webex still answers 500
        expect(page.get_by_text("Rotation failed:")).to_be_visible()
        assert evaluate_alerts()["opened"] == 1
        assert notices("Token at risk") == ["[BYODS ALERT] Token at risk: Globex Retail (warning)"]

        page.goto(portal_url("dashboard"))
        open_alerts = page.locator("section[aria-labelledby=alerts-heading]")
        expect(open_alerts).to_contain_text(AT_RISK)
        expect(open_alerts).to_contain_text("rotation failed twice in a row")
        expect(open_alerts.locator("tbody tr .badge", has_text="Warning")).to_be_visible()
        expect(open_alerts).not_to_contain_text("nobody assigned")  # the team's default owner
        shoot(page, "dashboard-at-risk.png")

        page.goto(portal_url("alerts:list"))
        row = alert_row(page, "Token at risk")
        expect(row).to_have_count(1)
        expect(row).to_contain_text(AT_RISK)
        expect(row.locator(".badge", has_text="Warning")).to_be_visible()
        expect(row).not_to_contain_text("Critical")
        expect(row).to_contain_text("Cause: ")  # the 500 Webex gave, with its trackingId
        expect(row).to_contain_text("trackingId ")
        shoot(page, "alert-list-at-risk.png")

    # Past the expiry, the storm still on: the next evaluation escalates the same alert to
    # critical, the pages say data has stopped, and the teams hear of it a second time.
    with portal_clock_at(expires + dt.timedelta(minutes=3)):
        report = evaluate_alerts()
        assert (report["escalated"], report["opened"]) == (1, 0)
        assert notices("Token at risk") == [
            "[BYODS ALERT] Token at risk: Globex Retail (warning)",
            "[BYODS ESCALATED] Token at risk: Globex Retail (critical)",
        ]
        assert re.search(STOPPED, mail.outbox[-1].body)

        page.goto(portal_url("dashboard"))
        open_alerts = page.locator("section[aria-labelledby=alerts-heading]")
        expect(open_alerts).to_contain_text(STOPPED)
        expect(open_alerts).not_to_contain_text("stops flowing in")
        expect(open_alerts.locator("tbody tr .badge", has_text="Critical")).to_be_visible()
        expect(open_alerts.locator("tbody tr .badge", has_text="Warning")).to_have_count(0)
        # The lapsed feed heads "Needs attention" and "Soonest deadlines", in red.
        first = page.locator(".attention-item").first
        expect(first).to_have_class(re.compile(r"alert-danger"))
        expect(first).to_contain_text("the JWS lapsed")
        expect(first).to_contain_text("Owner: Operations on call")  # the team's default
        lapsed = page.locator("section[aria-labelledby=deadlines-heading] li").first
        expect(lapsed).to_have_class(re.compile(r"deadline-lapsed"))
        expect(lapsed).to_contain_text("Globex Retail")
        shoot(page, "dashboard-mid-outage.png")

        page.goto(portal_url("alerts:list"))
        row = alert_row(page, "Token at risk")
        expect(row).to_have_count(1)  # the same episode, escalated: no second alert
        expect(row).to_contain_text(STOPPED)
        expect(row.locator(".badge", has_text="Critical")).to_be_visible()
        expect(row).not_to_contain_text("Warning")
        shoot(page, "alert-list.png")

        row.get_by_role("link", name="Token at risk").click()
        expect(page.locator("#alert-headline")).to_have_text(STOPPED)
        expect(page.locator("h1 .badge", has_text="Critical")).to_be_visible()
        expect(page.get_by_text(re.compile(r"; escalated \d{4}-\d\d-\d\d"))).to_be_visible()

        page.goto(portal_url("datasources:detail", feed.public_id))
        expect(page.locator("h1")).to_contain_text("Expired")
        expect(page.get_by_text("The JWS has expired")).to_be_visible()
        expect(page.get_by_text("Failures in a row")).to_be_visible()
        expect(page.locator("dd.text-danger", has_text="2")).to_be_visible()
        shoot(page, "datasource-page.png")

    alert = Alert.objects.get(kind=Kind.TOKEN_AT_RISK)
    assert alert.severity == "critical" and alert.escalation_notified_at is not None


# ------------------------------------------------------------------------- 2. silence, then wake
def test_a_silenced_alert_wakes_and_notifies_when_it_escalates(
    page_for, portal_url, feed, emulator, eager_tasks
):
    alert_services.alertchannel_create(
        team="Rotations on call",
        email_recipients=["oncall@example.com"],
        kinds=list(Kind.values),
        actor=SYSTEM,
    )
    emulator.set_faults(PUT_STORM)
    expires = feed.token_expires_at
    assert expires is not None
    page = page_for("operator")

    with portal_clock_at(expires - dt.timedelta(minutes=6, seconds=30)):
        assert evaluate_alerts()["opened"] == 1
        assert len(notices("Token at risk")) == 1  # the opening
        page.goto(portal_url("alerts:list"))
        alert_row(page, "Token at risk").get_by_role("link", name="Token at risk").click()

        silence = page.locator("form", has=page.get_by_role("button", name="Silence"))
        until = timezone.now() + dt.timedelta(hours=2)
        silence.get_by_label("Until (UTC)").fill(until.strftime("%Y-%m-%dT%H:%M"))
        silence.get_by_label("Reason").fill("Customer migrating their receiver tonight")
        silence.get_by_role("button", name="Silence").click()
        expect(page.get_by_text("Silenced: Globex Retail – Token at risk.")).to_be_visible()
        expect(page.locator("#alert-quiet")).to_contain_text(
            "Silenced until " + until.strftime("%Y-%m-%d %H:%M") + " UTC by operator.browser@"
        )
        expect(page.locator("#alert-quiet")).to_contain_text(
            "Customer migrating their receiver tonight"
        )

        page.goto(portal_url("alerts:list"))
        row = alert_row(page, "Token at risk")
        expect(row).to_have_class(re.compile(r"\balert-quiet\b"))  # greyed
        expect(row.locator(".badge", has_text="silenced")).to_be_visible()
        expect(row.locator(".badge", has_text="Warning")).to_be_visible()
        shoot(page, "alert-list-silenced.png")

        # While silenced, nothing more is sent.
        evaluate_alerts()
        assert len(notices("Token at risk")) == 1

    with portal_clock_at(expires + dt.timedelta(minutes=2)):
        assert evaluate_alerts()["escalated"] == 1
        assert notices("Token at risk")[-1] == (
            "[BYODS ESCALATED] Token at risk: Globex Retail (critical)"
        )
        assert len(notices("Token at risk")) == 2

        page.goto(portal_url("alerts:list"))
        row = alert_row(page, "Token at risk")
        expect(row).not_to_have_class(re.compile(r"\balert-quiet\b"))
        expect(row.locator(".badge", has_text="silenced")).to_have_count(0)
        expect(row.locator(".badge", has_text="Critical")).to_be_visible()
        expect(row).to_contain_text(STOPPED)
        shoot(page, "alert-list-woken.png")

        row.get_by_role("link", name="Token at risk").click()
        expect(page.locator("#alert-quiet")).to_have_count(0)
        expect(page.locator("h1 .badge", has_text="Critical")).to_be_visible()
        expect(page.locator("h1")).not_to_contain_text("silenced")


# ------------------------------------------------------------------------- 3. disabled at Webex
def disable_at_webex(webex_world, org, ds: DataSource) -> None:
    """What the customer's admin does in Control Hub: a PUT straight to Webex (the emulator),
    behind the portal's back."""
    WebexClient(api_base=webex_world.api_base).update_datasource(
        access_token=OrgToken.objects.get(org=org).access_token,
        datasource_id=ds.webex_id,
        request=DataSourceRequest(
            schema_id=ds.schema_id,
            url=ds.url,
            audience=ds.audience,
            subject=ds.subject,
            nonce=uuid.uuid4().hex,
            token_lifetime_minutes=ds.token_lifetime_minutes,
            status="disabled",
            error_message="Paused by the customer",
        ),
    )


def test_a_data_source_disabled_at_webex_reads_not_flowing(
    page_for, portal_url, active_org, feed, webex_world, emulator, eager_tasks
):
    page = page_for("operator")
    page.goto(portal_url("datasources:detail", feed.public_id))
    expect(page.locator("h1")).to_contain_text("Healthy")

    disable_at_webex(webex_world, active_org, feed)
    remote = next(d for d in emulator.state()["dataSources"] if d["id"] == feed.webex_id)
    assert remote["status"] == "disabled"
    page.reload()  # the portal cannot know before reconciliation
    expect(page.locator("h1")).to_contain_text("Healthy")

    assert datasource_tasks.reconcile_all() >= 1  # the hourly task: it opens a drift finding
    page.reload()
    expect(page.locator("h1")).to_contain_text("Not flowing: disabled at Webex")
    expect(page.locator("h1")).not_to_contain_text("Healthy")
    banner = page.get_by_role("alert").filter(has_text="Not flowing: disabled at Webex.")
    expect(banner).to_contain_text("changed at Webex behind the portal's back")
    expect(banner.get_by_role("link", name=re.compile("Adopt what Webex has"))).to_be_visible()

    page.goto(portal_url("datasources:list"))
    row = page.locator("tbody tr").filter(has_text=FEED)
    expect(row).to_contain_text("Not flowing: disabled at Webex")
    expect(row).not_to_contain_text("Healthy")

    evaluate_alerts()
    page.goto(portal_url("alerts:list"))
    drift = alert_row(page, "Drift found")
    expect(drift).to_contain_text(f"not flowing: {FEED} (disabled at Webex)")
    expect(drift.locator(".badge", has_text="Critical")).to_be_visible()


# ------------------------------------------------------------------------- 4. who may quiet
@pytest.mark.parametrize(
    ("role", "may_quiet"), [("onboarding", False), ("auditor", False), ("operator", True)]
)
def test_only_operators_see_snooze_and_silence(page_for, portal_url, feed, role, may_quiet):
    expires = feed.token_expires_at
    assert expires is not None
    page = page_for(role)
    with portal_clock_at(expires - dt.timedelta(minutes=6, seconds=30)):
        alert_services.alerts_evaluate(actor=SYSTEM)
        page.goto(portal_url("alerts:list"))
        row = alert_row(page, "Token at risk")
        expect(row).to_contain_text(AT_RISK)
        expect(row.locator(".badge", has_text="Warning")).to_be_visible()
        row.get_by_role("link", name="Token at risk").click()
        expect(page.locator("#alert-headline")).to_have_text(AT_RISK)
        count = 1 if may_quiet else 0
        expect(page.get_by_role("button", name="Snooze")).to_have_count(count)
        expect(page.get_by_role("button", name="Silence")).to_have_count(count)
        expect(page.get_by_role("heading", name="Snooze")).to_have_count(count)
        expect(page.get_by_label("Reason")).to_have_count(2 * count)
