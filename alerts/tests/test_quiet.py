"""Snooze and silence: operators withhold an alert's notices with a reason and an end time
(audited); the alert still shows, greyed, and wakes up (notifying) when it escalates."""

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from alerts import services
from alerts.models import Alert, Kind
from alerts.presentation import present
from audit.models import AuditEvent
from conftest import PERSONAS
from datasources.models import DataSource

from .conftest import SYSTEM

pytestmark = pytest.mark.django_db
OPERATORS = {"operator"}


def evaluate():
    return services.alerts_evaluate(actor=SYSTEM)


@pytest.fixture
def at_risk(register):
    """A 30-minute JWS left to lapse: (its alert opened 6 minutes ahead, its expiry)."""
    ds = register(token_lifetime_minutes=30)
    expires = DataSource.objects.get(pk=ds.pk).token_expires_at
    with time_machine.travel(expires - dt.timedelta(minutes=6), tick=False):
        alert = Alert.objects.get(pk=evaluate().opened[0])
    return alert, expires


@pytest.fixture
def drift_alert(org):
    return Alert.objects.create(
        kind=Kind.DRIFT_FOUND, dedup_key=f"drift_found:org:{org.pk}", org=org, summary="2 diffs"
    )


def test_a_snoozed_alert_sends_nothing_and_wakes_when_it_escalates(
    at_risk, channel, receiver, django_user_model
):
    alert, expires = at_risk
    op = django_user_model.objects.create_user(username="op@example.com")
    with time_machine.travel(expires - dt.timedelta(minutes=5), tick=False):
        services.alert_snooze(
            alert=alert,
            until=timezone.now() + dt.timedelta(hours=2),
            reason="Customer maintenance window",
            user=op,
        )
        quiet = Alert.objects.get(pk=alert.pk)
        assert quiet.is_quiet() and present(quiet).quiet.startswith("Snoozed until")
        report = services.alert_deliver(alert=quiet, event="opened", actor=SYSTEM)
        assert report.withheld and report.sent == 0
    assert receiver.requests == []
    event = AuditEvent.objects.get(action="alert.snoozed")
    assert event.reason == "Customer maintenance window" and event.actor == "op@example.com"

    with time_machine.travel(expires + dt.timedelta(minutes=1), tick=False):
        assert evaluate().escalated == [alert.pk]
        woke = Alert.objects.get(pk=alert.pk)
        assert not woke.is_quiet() and woke.quiet == "" and woke.severity == "critical"
        assert services.alert_deliver(alert=woke, event="escalated", actor=SYSTEM).sent == 2
    [notice] = receiver.payloads()
    assert notice["byods"]["event"] == "escalated"
    assert "woke from its snooze" in AuditEvent.objects.get(action="alert.escalated").summary


def test_a_silence_until_resolved_withholds_the_resolution_too(at_risk, channel, receiver):
    alert, expires = at_risk
    with time_machine.travel(expires - dt.timedelta(minutes=5), tick=False):
        services.alert_silence(
            alert=alert, reason="Known: customer migrating", user=None, actor=SYSTEM
        )
        assert Alert.objects.get(pk=alert.pk).quiet_until is None
    assert evaluate().resolved == [alert.pk]  # now: the token is fresh again
    report = services.alert_deliver(alert=alert, event="resolved", actor=SYSTEM)
    assert report.withheld and receiver.requests == []
    assert AuditEvent.objects.get(action="alert.silenced").reason == "Known: customer migrating"


def test_a_snooze_ends_at_its_end_time(drift_alert, django_user_model):
    op = django_user_model.objects.create_user(username="op@example.com")
    end = timezone.now() + dt.timedelta(hours=1)
    services.alert_snooze(alert=drift_alert, until=end, reason="Looking into it", user=op)
    alert = Alert.objects.get(pk=drift_alert.pk)
    assert alert.is_quiet()
    with time_machine.travel(end + dt.timedelta(seconds=1), tick=False):
        assert not alert.is_quiet() and present(alert).quiet == ""


def test_the_rules_of_snooze_and_silence(drift_alert, django_user_model):
    op = django_user_model.objects.create_user(username="op@example.com")
    soon = timezone.now() + dt.timedelta(hours=1)
    with pytest.raises(ValidationError) as exc:
        services.alert_snooze(alert=drift_alert, until=soon, reason=" ", user=op)
    assert "reason" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.alert_snooze(alert=drift_alert, until=None, reason="Looking into it", user=op)
    assert exc.value.message_dict["until"] == ["A snooze needs an end time."]
    with pytest.raises(ValidationError) as exc:
        services.alert_silence(
            alert=drift_alert,
            until=timezone.now() - dt.timedelta(minutes=1),
            reason="Looking into it",
            user=op,
        )
    assert exc.value.message_dict["until"] == ["The end time must be in the future."]
    assert not AuditEvent.objects.filter(action__in=["alert.snoozed", "alert.silenced"]).exists()
    services.alert_silence(alert=drift_alert, reason="Looking into it", user=op)
    services.alert_wake(alert=drift_alert, user=op)
    assert Alert.objects.get(pk=drift_alert.pk).quiet == ""
    assert AuditEvent.objects.filter(action="alert.woken").count() == 1
    Alert.objects.filter(pk=drift_alert.pk).update(resolved_at=timezone.now())
    with pytest.raises(ValidationError) as exc:
        services.alert_snooze(alert=drift_alert, until=soon, reason="Looking into it", user=op)
    assert "already resolved" in str(exc.value)


# ------------------------------------------------------------------------- pages
def expect(response, persona, allowed, ok):
    if persona == "anonymous":
        assert response.status_code == 302 and response.url.startswith("/login/")
    elif persona in allowed:
        assert response.status_code == ok, response.status_code
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("persona", PERSONAS)
def test_snoozing_on_the_page_is_for_operators(client_for, persona, drift_alert):
    client = client_for(persona)
    until = (timezone.now() + dt.timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        reverse("alerts:snooze", args=[drift_alert.public_id]),
        {"snooze-until": until, "snooze-reason": "Customer maintenance window"},
    )
    expect(response, persona, OPERATORS, ok=302)
    fresh = Alert.objects.get(pk=drift_alert.pk)
    assert (fresh.quiet == "snoozed") is (persona in OPERATORS)
    if persona in OPERATORS:
        listing = client.get(reverse("alerts:list")).content.decode()
        assert "alert-quiet" in listing and ">snoozed</span>" in listing
        detail = client.get(reverse("alerts:detail", args=[drift_alert.public_id]))
        assert "Snoozed until" in detail.content.decode()
        assert "End the snoozed" in detail.content.decode()
    else:
        assert not AuditEvent.objects.filter(action="alert.snoozed").exists()


@pytest.mark.parametrize("persona", PERSONAS)
def test_silencing_and_waking_on_the_page_are_for_operators(client_for, persona, drift_alert):
    client = client_for(persona)
    response = client.post(
        reverse("alerts:silence", args=[drift_alert.public_id]),
        {"silence-until": "", "silence-reason": "Known: customer migrating"},
    )
    expect(response, persona, OPERATORS, ok=302)
    assert (Alert.objects.get(pk=drift_alert.pk).quiet == "silenced") is (persona in OPERATORS)
    services.alert_silence(alert=drift_alert, reason="Set by the test", user=None, actor=SYSTEM)
    response = client.post(reverse("alerts:wake", args=[drift_alert.public_id]))
    expect(response, persona, OPERATORS, ok=302)
    assert (Alert.objects.get(pk=drift_alert.pk).quiet == "") is (persona in OPERATORS)


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_alert_page_is_for_every_staff_role_and_forms_for_operators(
    client_for, persona, drift_alert
):
    response = client_for(persona).get(reverse("alerts:detail", args=[drift_alert.public_id]))
    expect(response, persona, {"operator", "onboarding", "auditor"}, ok=200)
    if response.status_code == 200:
        html = response.content.decode()
        assert "2 diffs" in html and "What to do next" in html and "Owner" in html
        assert ("Snooze</button>" in html) is (persona in OPERATORS)


def test_a_snooze_without_reason_or_end_shows_the_errors(operator_client, drift_alert):
    response = operator_client.post(
        reverse("alerts:snooze", args=[drift_alert.public_id]),
        {"snooze-until": "", "snooze-reason": ""},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "This field is required." in html
    response = operator_client.post(
        reverse("alerts:snooze", args=[drift_alert.public_id]),
        {"snooze-until": "", "snooze-reason": "Looking into it"},
    )
    assert response.status_code == 400
    assert "A snooze needs an end time." in response.content.decode()
    assert Alert.objects.get(pk=drift_alert.pk).quiet == ""


# ------------------------------------------------------------------------- API
@pytest.mark.parametrize("persona", ["operator", "onboarding", "auditor"])
def test_the_api_snoozes_silences_and_wakes_for_operators_only(
    api_client_for, persona, drift_alert
):
    client = api_client_for(persona)
    base = f"/api/v1/alerts/{drift_alert.public_id}/"
    until = (timezone.now() + dt.timedelta(hours=2)).isoformat()
    snooze = client.post(f"{base}snooze/", {"until": until, "reason": "Maintenance"}, format="json")
    silence = client.post(f"{base}silence/", {"reason": "Known issue"}, format="json")
    wake = client.post(f"{base}wake/")
    if persona != "operator":
        assert {snooze.status_code, silence.status_code, wake.status_code} == {403}
        assert Alert.objects.get(pk=drift_alert.pk).quiet == ""
        return
    assert snooze.status_code == 200 and snooze.json()["quiet"] == "snoozed"
    assert silence.status_code == 200 and silence.json()["quiet"] == "silenced"
    assert silence.json()["quiet_until"] is None
    assert silence.json()["quiet_reason"] == "Known issue"
    assert wake.status_code == 200 and wake.json()["quiet"] == ""
    missing = client.post(f"{base}snooze/", {"reason": "Maintenance"}, format="json")
    assert missing.status_code == 400 and "until" in missing.json()["error"]["fields"]
    Alert.objects.filter(pk=drift_alert.pk).update(resolved_at=timezone.now())
    late = client.post(f"{base}silence/", {"reason": "Known issue"}, format="json")
    assert late.status_code == 409 and late.json()["error"]["code"] == "already_resolved"
