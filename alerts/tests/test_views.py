"""Every alerts page for every persona, allowed and refused."""

import pytest
from django.core import mail
from django.urls import reverse

from alerts import services, tasks
from alerts.models import Alert, AlertChannel, Kind
from conftest import PERSONAS

from .conftest import SECRET, SYSTEM

pytestmark = pytest.mark.django_db
WRITERS = {"operator", "onboarding"}  # acknowledge
OPERATORS = {"operator"}  # incidents, channels


def expect(response, persona, allowed, ok=200):
    if persona == "anonymous":
        assert response.status_code == 302 and response.url.startswith("/login/")
    elif persona in allowed:
        assert response.status_code == ok, response.status_code
    else:
        assert response.status_code == 403


@pytest.fixture
def drift_alert(org):
    return Alert.objects.create(
        kind=Kind.DRIFT_FOUND, dedup_key=f"drift_found:org:{org.pk}", org=org, summary="2 diffs"
    )


@pytest.fixture
def no_queue(monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.deliver, "delay_on_commit", lambda *a: queued.append(a))
    return queued


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_list_is_for_every_staff_role(client_for, persona, drift_alert):
    response = client_for(persona).get(reverse("alerts:list"))
    expect(response, persona, {"operator", "onboarding", "auditor"})
    if response.status_code == 200:
        html = response.content.decode()
        assert "Globex Retail" in html and "2 diffs" in html
        assert ("Acknowledge</button>" in html) == (persona in WRITERS)
        assert ("Raise an incident" in html) == (persona in OPERATORS)


def test_the_list_filters_searches_and_shows_past_alerts(operator_client, org):
    Alert.objects.create(kind=Kind.DRIFT_FOUND, dedup_key="a", org=org, summary="drifted")
    from django.utils import timezone

    Alert.objects.create(
        kind=Kind.INCIDENT, dedup_key="b", org=org, summary="old outage", resolved_at=timezone.now()
    )
    url = reverse("alerts:list")
    html = operator_client.get(url).content.decode()
    assert "drifted" in html and "old outage" not in html
    html = operator_client.get(url, {"state": "all"}).content.decode()
    assert "drifted" in html and "old outage" in html
    html = operator_client.get(url, {"state": "all", "kind": "incident"}).content.decode()
    assert "drifted" not in html and "old outage" in html
    html = operator_client.get(url, {"q": "nothing-like-this"}).content.decode()
    assert "No alert matches these filters" in html


def test_the_empty_list_says_what_it_means(auditor_client):
    html = auditor_client.get(reverse("alerts:list")).content.decode()
    assert "No open alerts" in html


@pytest.mark.parametrize("persona", PERSONAS)
def test_acknowledging_is_for_operators_and_onboarding(client_for, persona, drift_alert):
    client = client_for(persona)
    response = client.post(reverse("alerts:acknowledge", args=[drift_alert.public_id]))
    expect(response, persona, WRITERS, ok=302)
    fresh = Alert.objects.get(pk=drift_alert.pk)
    assert (fresh.acknowledged_at is not None) == (persona in WRITERS)
    if persona in WRITERS:
        assert fresh.acknowledged_by == client.user
        html = client.get(reverse("alerts:list")).content.decode()
        assert f"by {persona}@example.com" in html


def test_acknowledging_a_resolved_alert_says_why_not(operator_client, drift_alert):
    from django.utils import timezone

    Alert.objects.filter(pk=drift_alert.pk).update(resolved_at=timezone.now())
    response = operator_client.post(
        reverse("alerts:acknowledge", args=[drift_alert.public_id]), follow=True
    )
    assert "already resolved" in response.content.decode()


@pytest.mark.parametrize("persona", PERSONAS)
def test_raising_an_incident_is_for_operators(client_for, persona, org, no_queue):
    client = client_for(persona)
    expect(client.get(reverse("alerts:incident_raise")), persona, OPERATORS)
    response = client.post(
        reverse("alerts:incident_raise"), {"org": org.public_id, "summary": "EU outage at Webex"}
    )
    expect(response, persona, OPERATORS, ok=302)
    assert Alert.objects.filter(kind=Kind.INCIDENT).exists() == (persona in OPERATORS)
    if persona in OPERATORS:
        alert = Alert.objects.get()
        assert alert.summary == "EU outage at Webex"
        assert no_queue == [(alert.pk, "opened")]


def test_an_incident_form_error_sits_beside_its_field(operator_client, org):
    response = operator_client.post(
        reverse("alerts:incident_raise"), {"org": org.public_id, "summary": "no"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "at least 5 characters" in html and 'aria-invalid="true"' in html


@pytest.mark.parametrize("persona", PERSONAS)
def test_resolving_an_incident_is_for_operators(client_for, persona, org, no_queue):
    client = client_for(persona)
    incident = services.alert_incident_raise(org=org, summary="EU outage", user=None, actor=SYSTEM)
    response = client.post(reverse("alerts:resolve", args=[incident.public_id]))
    expect(response, persona, OPERATORS, ok=302)
    resolved = Alert.objects.get(pk=incident.pk).resolved_at is not None
    assert resolved == (persona in OPERATORS)
    assert no_queue == ([(incident.pk, "resolved")] if persona in OPERATORS else [])


@pytest.mark.parametrize("persona", PERSONAS)
def test_channels_are_for_operators(client_for, persona):
    client = client_for(persona)
    expect(client.get(reverse("alerts:channel_list")), persona, OPERATORS)
    expect(client.get(reverse("alerts:channel_create")), persona, OPERATORS)
    response = client.post(
        reverse("alerts:channel_create"),
        {
            "team": "Ops",
            "email_recipients": "ops@example.com\nlead@example.com",
            "webhook_url": "https://hooks.example.com/T/B/x",
            "webhook_secret": SECRET,
            "kinds": [Kind.INCIDENT, Kind.TOKEN_AT_RISK],
            "enabled": "on",
        },
    )
    expect(response, persona, OPERATORS, ok=302)
    assert AlertChannel.objects.exists() == (persona in OPERATORS)


@pytest.mark.parametrize("persona", PERSONAS)
def test_editing_and_removing_a_channel_is_for_operators(client_for, persona, channel):
    client = client_for(persona)
    url = reverse("alerts:channel_edit", args=[channel.public_id])
    response = client.get(url)
    expect(response, persona, OPERATORS)
    if response.status_code == 200:
        assert SECRET not in response.content.decode()  # never shown again
    response = client.post(
        url,
        {
            "team": "Renamed",
            "email_recipients": "cs@example.com",
            "webhook_url": channel.webhook_url,
            "webhook_secret": "",
            "kinds": [Kind.INCIDENT],
            "enabled": "on",
        },
    )
    expect(response, persona, OPERATORS, ok=302)
    renamed = AlertChannel.objects.get(pk=channel.pk)
    assert (renamed.team == "Renamed") == (persona in OPERATORS)
    assert renamed.webhook_secret == SECRET
    response = client.post(reverse("alerts:channel_delete", args=[channel.public_id]))
    expect(response, persona, OPERATORS, ok=302)
    assert AlertChannel.objects.exists() == (persona not in OPERATORS)


def test_the_channel_list_never_shows_the_secret(operator_client, channel):
    html = operator_client.get(reverse("alerts:channel_list")).content.decode()
    assert "Customer success" in html and SECRET not in html


def test_a_bad_channel_shows_the_rule_beside_the_field(operator_client):
    response = operator_client.post(
        reverse("alerts:channel_create"),
        {"team": "Ops", "webhook_url": "http://hooks.example.com/x", "kinds": [Kind.INCIDENT]},
    )
    html = response.content.decode()
    assert response.status_code == 200 and "must start with https://" in html
    assert not AlertChannel.objects.exists()
    assert mail.outbox == []
