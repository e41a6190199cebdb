"""The alerts API for every persona: the same permissions and messages as the alerts pages.

Personas: API keys of each role (operator, onboarding, auditor, verifier), no key, and a
signed-in user without a role (the other signed-in roles are in byods_portal's role table)."""

import uuid

import pytest
from django.utils import timezone

from alerts import services, tasks
from alerts.models import Alert, Kind
from audit.models import AuditEvent
from datasources.services import datasources_reconcile_org
from tenants.models import CustomerOrg, OrgToken
from webex.client import WebexClient

from .conftest import SECRET, SYSTEM

pytestmark = pytest.mark.django_db
LIST = "/api/v1/alerts/"
INCIDENTS = "/api/v1/alerts/incidents/"
KEYS = ("operator", "onboarding", "auditor", "verifier")


def detail(alert, action: str = "") -> str:
    return f"/api/v1/alerts/{alert.public_id}/" + (f"{action}/" if action else "")


@pytest.fixture
def queued(monkeypatch):
    """Deliveries the API queues (their sending is tested in test_delivery.py)."""
    calls = []
    monkeypatch.setattr(tasks.deliver, "delay_on_commit", lambda *a: calls.append(a))
    return calls


@pytest.fixture
def drift_alert(org):
    return Alert.objects.create(
        kind=Kind.DRIFT_FOUND, dedup_key=f"drift_found:org:{org.pk}", org=org, summary="2 diffs"
    )


@pytest.fixture
def incident(org):
    return services.alert_incident_raise(
        org=org, summary="Webex delays data in the EU", user=None, actor=SYSTEM
    )


@pytest.fixture
def persona_client(api_client_for, client_for):
    """An API client as `persona`: a key of that role, no key, or a session without a role."""
    from rest_framework.test import APIClient

    def make(persona: str):
        if persona == "nokey":
            return APIClient()
        if persona == "norole":
            client = APIClient()
            client.force_login(client_for("norole").user)
            return client
        return api_client_for(persona)

    return make


def expect(response, persona: str, allowed: set[str], ok: int = 200) -> bool:
    """Assert the status a persona gets; True when the request was allowed."""
    if persona == "nokey":
        assert response.status_code == 401, response.content
        assert response.json()["error"]["code"] == "not_authenticated"
        return False
    if persona not in allowed:
        assert response.status_code == 403, response.content
        assert response.json()["error"]["code"] == "permission_denied"
        return False
    assert response.status_code == ok, response.content
    return True


PERSONAS = (*KEYS, "nokey", "norole")
READERS = {"operator", "onboarding", "auditor"}


# ------------------------------------------------------------------------- reading
@pytest.mark.parametrize("persona", PERSONAS)
def test_the_list_is_for_every_staff_role(persona_client, persona, drift_alert):
    response = persona_client(persona).get(LIST)
    if expect(response, persona, READERS):
        body = response.json()
        assert body["count"] == 1
        row = body["results"][0]
        assert row["id"] == str(drift_alert.public_id) and row["kind"] == "drift_found"
        assert row["org_name"] == "Globex Retail" and row["state"] == "open"
        assert row["acknowledged_by"] is None and row["summary"] == "2 diffs"


@pytest.mark.parametrize("persona", PERSONAS)
def test_one_alert_is_for_every_staff_role(persona_client, persona, drift_alert):
    response = persona_client(persona).get(detail(drift_alert))
    if expect(response, persona, READERS):
        assert response.json()["id"] == str(drift_alert.public_id)


def test_an_unknown_alert_is_a_404(api_client_for):
    response = api_client_for("auditor").get(f"{LIST}{uuid.uuid4()}/")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_the_list_filters_as_the_page_does(api_client_for, org):
    other = CustomerOrg.objects.create(
        service_app=org.service_app, webex_org_id=uuid.uuid4(), name="Initech", status="active"
    )
    drifted = Alert.objects.create(kind=Kind.DRIFT_FOUND, dedup_key="a", org=org, summary="drifted")
    past = Alert.objects.create(
        kind=Kind.INCIDENT,
        dedup_key="b",
        org=org,
        summary="old outage",
        resolved_at=timezone.now(),
    )
    theirs = Alert.objects.create(
        kind=Kind.INCIDENT, dedup_key="c", org=other, summary="their outage"
    )
    client = api_client_for("auditor")

    def ids(**params) -> set[str]:
        response = client.get(LIST, params)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert ids() == {str(drifted.public_id), str(theirs.public_id)}
    assert ids(state="all") == {str(a.public_id) for a in (drifted, past, theirs)}
    assert ids(state="all", kind="incident") == {str(past.public_id), str(theirs.public_id)}
    assert ids(state="all", org=str(org.public_id)) == {str(drifted.public_id), str(past.public_id)}
    assert ids(q="INITECH") == {str(theirs.public_id)}
    assert ids(q="drifted") == {str(drifted.public_id)}
    assert ids(q="nothing-like-this") == set()
    states = {
        row["id"]: row["state"] for row in client.get(LIST, {"state": "all"}).json()["results"]
    }
    assert states[str(past.public_id)] == "resolved" and states[str(drifted.public_id)] == "open"


@pytest.mark.parametrize(
    ("params", "field"),
    [({"kind": "volcano"}, "kind"), ({"state": "closed"}, "state"), ({"org": "nope"}, "org")],
)
def test_a_bad_filter_names_its_field(api_client_for, params, field):
    response = api_client_for("auditor").get(LIST, params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and list(error["fields"]) == [field]
    assert error["message"] == f"Check the fields: {field}."


# ------------------------------------------------------------------------- acknowledging
@pytest.mark.parametrize("persona", PERSONAS)
def test_acknowledging_is_for_operators_and_onboarding(persona_client, persona, drift_alert):
    client = persona_client(persona)
    response = client.post(detail(drift_alert, "acknowledge"))
    fresh = Alert.objects.get(pk=drift_alert.pk)
    if expect(response, persona, {"operator", "onboarding"}):
        who = f"api:{client.api_key.prefix}"
        assert response.json()["acknowledged_by"] == who and response.json()["acknowledged_at"]
        assert fresh.acknowledged_by_label == who and fresh.acknowledged_by is None
        event = AuditEvent.objects.get(action="alert.acknowledged")
        assert event.actor == who and event.actor_type == "api"
    else:
        assert fresh.acknowledged_at is None
        assert not AuditEvent.objects.filter(action="alert.acknowledged").exists()


def test_a_signed_in_user_acknowledges_in_their_name(client_for, drift_alert):
    client = client_for("onboarding")
    response = client.post(detail(drift_alert, "acknowledge"), content_type="application/json")
    assert response.status_code == 200, response.content
    username = client.user.get_username()
    assert response.json()["acknowledged_by"] == username
    assert Alert.objects.get(pk=drift_alert.pk).acknowledged_by == client.user


def test_acknowledging_twice_keeps_the_first(api_client_for, drift_alert):
    first, second = api_client_for("operator"), api_client_for("onboarding")
    first.post(detail(drift_alert, "acknowledge"))
    response = second.post(detail(drift_alert, "acknowledge"))
    assert response.status_code == 200
    assert response.json()["acknowledged_by"] == f"api:{first.api_key.prefix}"
    assert AuditEvent.objects.filter(action="alert.acknowledged").count() == 1


def test_a_resolved_alert_cannot_be_acknowledged(api_client_for, drift_alert):
    Alert.objects.filter(pk=drift_alert.pk).update(resolved_at=timezone.now())
    response = api_client_for("operator").post(detail(drift_alert, "acknowledge"))
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "already_resolved" and "already resolved" in error["message"]


def test_the_page_names_who_acknowledged_through_the_api(api_client_for, client_for, drift_alert):
    key = api_client_for("operator")
    key.post(detail(drift_alert, "acknowledge"))
    html = client_for("auditor").get("/alerts/").content.decode()
    assert f"by api:{key.api_key.prefix}," in html


# ------------------------------------------------------------------------- incidents
@pytest.mark.parametrize("persona", PERSONAS)
def test_raising_an_incident_is_for_operators(persona_client, persona, org, queued):
    client = persona_client(persona)
    payload = {"org": str(org.public_id), "summary": "Webex delays data in the EU"}
    response = client.post(INCIDENTS, payload, format="json")
    if expect(response, persona, {"operator"}, ok=201):
        body = response.json()
        alert = Alert.objects.get(public_id=body["id"])
        assert alert.kind == Kind.INCIDENT and alert.org == org and body["state"] == "open"
        assert body["summary"] == "Webex delays data in the EU" and body["kind_label"] == "Incident"
        assert queued == [(alert.pk, "opened")]
        event = AuditEvent.objects.get(action="incident.raised")
        assert event.actor == f"api:{client.api_key.prefix}"
    else:
        assert not Alert.objects.exists() and queued == []


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({}, {"org", "summary"}),
        ({"org": "not-a-uuid", "summary": "Webex outage"}, {"org"}),
        ({"org": str(uuid.uuid4()), "summary": "Webex outage"}, {"org"}),
        ({"summary": "x" * 501}, {"org", "summary"}),
    ],
)
def test_incident_shape_errors_name_their_fields(api_client_for, org, queued, payload, fields):
    response = api_client_for("operator").post(INCIDENTS, payload, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid" and set(error["fields"]) == fields
    assert not Alert.objects.exists() and queued == []


def test_incident_rule_errors_are_the_services(api_client_for, org, queued):
    payload = {"org": str(org.public_id), "summary": "x"}
    response = api_client_for("operator").post(INCIDENTS, payload, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "summary": ["Describe the incident in at least 5 characters."]
    }
    assert not Alert.objects.exists()


def test_an_incident_needs_a_json_object(api_client_for, org):
    response = api_client_for("operator").post(INCIDENTS, ["a"], format="json")
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "Send a JSON object."


@pytest.mark.parametrize("persona", PERSONAS)
def test_resolving_an_incident_is_for_operators(persona_client, persona, incident, queued):
    response = persona_client(persona).post(detail(incident, "resolve"))
    fresh = Alert.objects.get(pk=incident.pk)
    if expect(response, persona, {"operator"}):
        assert response.json()["state"] == "resolved" and response.json()["resolved_at"]
        assert fresh.resolved_at is not None and queued == [(incident.pk, "resolved")]
    else:
        assert fresh.resolved_at is None and queued == []


def test_only_incidents_are_resolved_by_hand(api_client_for, drift_alert, queued):
    response = api_client_for("operator").post(detail(drift_alert, "resolve"))
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "not_an_incident" and "clears on its own" in error["message"]
    assert Alert.objects.get(pk=drift_alert.pk).resolved_at is None and queued == []


def test_no_channel_secret_reaches_the_api(api_client_for, channel, incident):
    client = api_client_for("operator")
    bodies = [
        client.get(LIST, {"state": "all"}).content,
        client.get(detail(incident)).content,
        client.post(detail(incident, "acknowledge")).content,
        client.get("/api/schema/", {"format": "json"}).content,
    ]
    for body in bodies:
        assert SECRET.encode() not in body and b"webhook_secret" not in body


# ------------------------------------------------------------------------- end to end
def test_a_real_drift_becomes_an_alert_that_is_listed_and_acknowledged(
    api_client_for, org, register, webex_world
):
    """A data source deleted at Webex behind the portal's back: reconciliation finds the drift,
    evaluation opens the alert, the API lists it, an onboarding key acknowledges it."""
    ds = register()
    token = OrgToken.objects.get(org=org).access_token
    WebexClient(api_base=webex_world.api_base).delete_datasource(
        access_token=token, datasource_id=ds.webex_id
    )
    datasources_reconcile_org(org=org, actor=SYSTEM)
    assert services.alerts_evaluate(actor=SYSTEM).opened

    reader = api_client_for("auditor")
    rows = reader.get(LIST, {"kind": "drift_found", "org": str(org.public_id)}).json()["results"]
    assert len(rows) == 1 and rows[0]["acknowledged_by"] is None
    assert "1 difference between the portal and Webex for Globex Retail" in rows[0]["headline"]
    alert_url = f"{LIST}{rows[0]['id']}/"

    onboarding = api_client_for("onboarding")
    assert onboarding.post(f"{alert_url}acknowledge/").status_code == 200
    seen = reader.get(alert_url).json()
    assert seen["acknowledged_by"] == f"api:{onboarding.api_key.prefix}"
    assert seen["acknowledged_at"] and seen["state"] == "open"
