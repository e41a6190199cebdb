"""The audit trail API: filters as on the page, keyset pages, one event, the CSV export."""

import csv
import io

import pytest
from django.db import transaction
from django.urls import reverse

from audit.context import Actor
from audit.models import AuditEvent
from audit.services import audit_record
from audit.vocabulary import Action

EVENTS = "/api/v1/audit/events/"


def _record(n: int, action=Action.ORG_RECONCILED, actor="system:test"):
    with transaction.atomic():
        for i in range(n):
            audit_record(action=action, summary=f"event {i}", actor=Actor("system", actor))


@pytest.mark.django_db
def test_keyset_pages_walk_the_whole_trail_newest_first(api_client_for):
    client = api_client_for("auditor")
    _record(120)
    seen, url = [], EVENTS
    while url:
        body = client.get(url).json()
        seen += [e["id"] for e in body["results"]]
        url = body["older"]
    ids = list(AuditEvent.objects.order_by("-id").values_list("public_id", flat=True))
    assert seen == [str(i) for i in ids] and len(seen) == 121  # and the key's creation
    first = client.get(EVENTS).json()
    assert first["newer"] is None
    second = client.get(first["older"]).json()
    back = client.get(second["newer"]).json()
    assert [e["id"] for e in back["results"]] == [e["id"] for e in first["results"]]


@pytest.mark.django_db
def test_filters_match_the_page_and_name_bad_fields(api_client_for, auditor_client):
    client = api_client_for("auditor")
    _record(3, actor="system:a")
    _record(2, action=Action.ORG_ONBOARDED, actor="system:b")
    assert len(client.get(EVENTS, {"actor": "system:a"}).json()["results"]) == 3
    assert len(client.get(EVENTS, {"action": "org.onboarded"}).json()["results"]) == 2
    bad = {"since": "2026-01-02T00:00", "until": "2026-01-01T00:00", "outcome": "meh"}
    response = client.get(EVENTS, bad)
    page = auditor_client.get(reverse("audit:log"), bad)
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        k: list(v) for k, v in page.context["form"].errors.items()
    }
    assert "“Until” must be after “From”." in response.json()["error"]["fields"]["until"]


@pytest.mark.django_db
def test_one_event_and_the_csv_export(api_client_for):
    client = api_client_for("auditor")
    _record(2)
    event = AuditEvent.objects.order_by("id").last()
    one = client.get(f"{EVENTS}{event.public_id}/")
    assert one.status_code == 200 and one.json()["hash"] == event.hash
    response = client.get(f"{EVENTS}export/", {"action": "org.reconciled"})
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["action"] for r in rows] == ["org.reconciled", "org.reconciled"]
    exported = AuditEvent.objects.get(action="audit.exported")
    assert exported.actor == f"api:{client.api_key.prefix}"
    bad = client.get(f"{EVENTS}export/", {"org": "not-a-uuid"})
    assert bad.status_code == 400 and list(bad.json()["error"]["fields"]) == ["org"]


@pytest.mark.django_db
def test_onboarding_keys_cannot_read_the_trail(api_client_for):
    client = api_client_for("onboarding")
    assert client.get(EVENTS).status_code == 403
    assert client.get(f"{EVENTS}export/").status_code == 403
    assert not AuditEvent.objects.filter(action="audit.exported").exists()
