"""Say what Webex said: under 429/423 the message gives Webex's wait and what happens next
(retried automatically at a time, or try again after it), and every Webex failure names its
trackingId, on the pages, in API error bodies and in the data source's last error."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from core.webex_adapter import explain
from datasources.models import DataSource
from tenants.models import OrgToken
from webex.errors import WebexRateLimited, WebexServerError

from .conftest import SCHEMA

LIST = "/api/v1/datasources/"


def form_data(**overrides):
    return {
        "schema_id": SCHEMA,
        "url": "https://rx.byods.example.com/feed",
        "audience": "byods-rx",
        "subject": "globex-voice",
        "token_lifetime_minutes": "60",
    } | overrides


def api_data(**overrides):
    return form_data(token_lifetime_minutes=60, **overrides)


def fault(emulator, method, path, status, retry_after=None):
    rule = {"method": method, "pathRegex": path, "kind": "status", "status": status}
    if retry_after is not None:
        rule["retryAfter"] = retry_after
    emulator.set_faults([rule | {"times": None}])


def frozen():
    """The portal's clock held still (the emulator keeps its own), so times can be compared."""
    start = timezone.now().replace(microsecond=0) + dt.timedelta(seconds=1)
    return time_machine.travel(start, tick=False)


def hhmmss(moment: dt.datetime) -> str:
    return f"{moment.astimezone(dt.UTC):%H:%M:%S} UTC"


def last_tracking_id(action: str) -> str:
    event = AuditEvent.objects.filter(action=action).exclude(tracking_id="").latest("id")
    return event.tracking_id


@pytest.fixture
def ds(register):
    return register()


# ------------------------------------------------------------------------- the words
def test_a_rate_limit_with_retry_after_says_the_wait_and_when_it_is_retried():
    error = WebexRateLimited("Too many requests", status=429, tracking_id="T1", retry_after=30)
    at = dt.datetime(2026, 12, 3, 12, 4, 31, tzinfo=dt.UTC)
    assert explain(error, retry_at=at) == (
        "Webex is rate-limiting (429): Webex asks us to wait 30 s; retried automatically at "
        "12:04:31 UTC. (Webex trackingId: T1)"
    )
    assert explain(error, now=at - dt.timedelta(seconds=30)) == (
        "Webex is rate-limiting (429): Webex asks us to wait 30 s; try again after "
        "12:04:31 UTC. (Webex trackingId: T1)"
    )


def test_a_rate_limit_without_retry_after_does_not_claim_webex_asked():
    error = WebexRateLimited(
        "Locked", status=423, tracking_id="T2", retry_after=15, retry_after_sent=False
    )
    text = explain(error, now=dt.datetime(2026, 12, 3, 12, 0, 0, tzinfo=dt.UTC))
    assert text.startswith("Webex reports the resource locked (423): Webex gave no Retry-After")
    assert "wait 15 s; try again after 12:00:15 UTC" in text and "Webex asks" not in text


def test_another_failure_names_its_tracking_id_and_a_scheduled_retry():
    error = WebexServerError("Injected failure", status=500, tracking_id="T3")
    assert explain(error) == "Webex call failed: Injected failure (Webex trackingId: T3)"
    at = dt.datetime(2026, 12, 3, 12, 4, 31, tzinfo=dt.UTC)
    assert explain(error, retry_at=at) == (
        "Webex call failed: Injected failure. Retried automatically at 12:04:31 UTC. "
        "(Webex trackingId: T3)"
    )


# ------------------------------------------------------------------------- register
@pytest.mark.django_db
def test_register_page_under_429_says_when_to_try_again(onboarding_client, org, emulator):
    fault(emulator, "POST", "^/v1/dataSources$", 429, retry_after=30)
    with frozen():
        now = timezone.now()
        html = onboarding_client.post(
            reverse("datasources:register", args=[org.public_id]), form_data()
        ).content.decode()
    tid = last_tracking_id("datasource.registered")
    assert (
        "Webex asks us to wait 30 s; try again after " + hhmmss(now + dt.timedelta(seconds=30))
    ) in html
    assert f"Webex trackingId: {tid}" in html
    assert "Too many requests" not in html and not DataSource.objects.exists()


@pytest.mark.django_db
def test_register_api_under_429_is_a_503_with_the_wait_and_tracking_id(
    api_client_for, org, emulator
):
    fault(emulator, "POST", "^/v1/dataSources$", 429, retry_after=30)
    with frozen():
        now = timezone.now()
        response = api_client_for("operator").post(
            LIST, api_data(org=str(org.public_id)), format="json"
        )
    assert response.status_code == 503 and response["Retry-After"] == "30"
    error = response.json()["error"]
    assert error["code"] == "webex_rate_limited"
    assert error["message"].startswith("Webex is rate-limiting (429): Webex asks us to wait 30 s")
    assert "try again after " + hhmmss(now + dt.timedelta(seconds=30)) in error["message"]
    assert f"Webex trackingId: {last_tracking_id('datasource.registered')}" in error["message"]


@pytest.mark.django_db
def test_register_under_a_500_names_the_tracking_id_on_page_and_api(
    onboarding_client, api_client_for, org, emulator
):
    fault(emulator, "POST", "^/v1/dataSources$", 500)
    html = onboarding_client.post(
        reverse("datasources:register", args=[org.public_id]), form_data()
    ).content.decode()
    assert f"Webex trackingId: {last_tracking_id('datasource.registered')}" in html
    response = api_client_for("operator").post(
        LIST, api_data(org=str(org.public_id)), format="json"
    )
    assert response.status_code == 502
    message = response.json()["error"]["message"]
    assert message.startswith("Webex call failed:")
    assert f"Webex trackingId: {last_tracking_id('datasource.registered')}" in message


# ------------------------------------------------------------------------- edit / disable / enable
@pytest.mark.django_db
def test_edit_page_under_423_says_webex_reports_it_locked(onboarding_client, ds, emulator):
    fault(emulator, "PUT", "^/v1/dataSources/", 423, retry_after=60)
    with frozen():
        now = timezone.now()
        response = onboarding_client.post(
            reverse("datasources:edit", args=[ds.public_id]),
            form_data(audience="byods-rx-2"),
            follow=True,
        )
    html = response.content.decode()
    assert "Webex reports the resource locked (423): Webex asks us to wait 60 s" in html
    assert "try again after " + hhmmss(now + dt.timedelta(seconds=60)) in html
    assert "Webex trackingId: " in html
    ds.refresh_from_db()
    assert ds.audience == "byods-rx"


@pytest.mark.django_db
def test_disable_and_enable_api_under_429_and_423(api_client_for, ds, emulator):
    client = api_client_for("operator")
    fault(emulator, "PUT", "^/v1/dataSources/", 429, retry_after=45)
    with frozen():
        now = timezone.now()
        response = client.post(
            f"{LIST}{ds.public_id}/disable/", {"message": "Planned upgrade"}, format="json"
        )
    assert response.status_code == 503 and response["Retry-After"] == "45"
    message = response.json()["error"]["message"]
    assert "Webex asks us to wait 45 s; try again after " + hhmmss(
        now + dt.timedelta(seconds=45)
    ) in message and ("Webex trackingId: " in message)
    emulator.clear_faults()
    client.post(f"{LIST}{ds.public_id}/disable/", {"message": "Planned upgrade"}, format="json")
    fault(emulator, "PUT", "^/v1/dataSources/", 423, retry_after=60)
    response = client.post(f"{LIST}{ds.public_id}/enable/")
    assert response.status_code == 503
    message = response.json()["error"]["message"]
    assert message.startswith("Webex reports the resource locked (423): Webex asks us to wait")
    assert "Webex trackingId: " in message


# ------------------------------------------------------------------------- rotate now
@pytest.mark.django_db
def test_rotate_now_under_429_says_when_the_engine_retries(onboarding_client, ds, emulator):
    fault(emulator, "PUT", "^/v1/dataSources/", 429, retry_after=30)
    with frozen():
        now = timezone.now()
        response = onboarding_client.post(
            reverse("datasources:rotate", args=[ds.public_id]), follow=True
        )
    html = response.content.decode()
    ds.refresh_from_db()
    assert ds.next_rotation_at == now + dt.timedelta(seconds=30)
    said = f"Webex asks us to wait 30 s; retried automatically at {hhmmss(ds.next_rotation_at)}"
    assert said in html and said in ds.last_error
    assert f"Webex trackingId: {ds.last_tracking_id}" in html
    assert f"Webex trackingId: {ds.last_tracking_id}" in ds.last_error
    assert "Too many requests" not in html


@pytest.mark.django_db
def test_rotate_api_under_a_500_says_the_retry_and_tracking_id(api_client_for, ds, emulator):
    fault(emulator, "PUT", "^/v1/dataSources/", 500)
    body = api_client_for("operator").post(f"{LIST}{ds.public_id}/rotate/").json()
    ds.refresh_from_db()
    assert body["outcome"] == "failed"
    assert f"Retried automatically at {hhmmss(ds.next_rotation_at)}" in body["detail"]
    assert f"Webex trackingId: {ds.last_tracking_id}" in body["detail"]
    assert body["datasource"]["last_error"] == ds.last_error


# ------------------------------------------------------------------------- refresh now
@pytest.mark.django_db
def test_refresh_now_under_429_says_when_it_is_retried(operator_client, org, emulator):
    fault(emulator, "POST", "/v1/access_token", 429, retry_after=90)
    with frozen():
        html = operator_client.post(
            reverse("tenants:org_refresh", args=[org.public_id]), follow=True
        ).content.decode()
    token = OrgToken.objects.get(org=org)
    said = "Webex asks us to wait 90 s; retried automatically at " + hhmmss(token.next_refresh_at)
    assert said in html and said in token.last_error
    assert f"Webex trackingId: {token.last_tracking_id}" in html
