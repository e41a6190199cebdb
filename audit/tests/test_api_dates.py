"""The audit trail's date filters: any instant ISO 8601 can write is read (never a 500 from
the database), a range that ends before it starts is a 400, and the CSV export checks all of
it before its first byte."""

import csv
import datetime as dt
import io

import pytest
from django.db import transaction

from audit.context import Actor
from audit.models import AuditEvent
from audit.services import audit_record
from audit.vocabulary import Action

EVENTS = "/api/v1/audit/events/"
EXPORT = "/api/v1/audit/events/export/"


@pytest.fixture
def events(db):
    with transaction.atomic():
        for i in range(3):
            audit_record(
                action=Action.ORG_RECONCILED, summary=f"event {i}", actor=Actor.system("t")
            )
    return AuditEvent.objects.filter(action=Action.ORG_RECONCILED)


def rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "since",
    [
        "2026-01-01T00:00:00-16:00",  # beyond PostgreSQL's +-15:59
        "2026-01-01T00:00:00+23:59",
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC: the start of time
        "2000-01-01T00:00:00Z",
    ],
)
def test_it_reads_any_offset_and_any_year_as_an_instant(api_client_for, events, since):
    client = api_client_for("auditor")
    listed = client.get(EVENTS, {"since": since, "action": "org.reconciled"})
    assert listed.status_code == 200
    assert len(listed.json()["results"]) == 3
    exported = client.get(EXPORT, {"since": since, "action": "org.reconciled"})
    assert exported.status_code == 200 and len(rows(exported)) == 3


@pytest.mark.django_db
def test_an_instant_is_compared_in_utc(api_client_for, events):
    newest = events.order_by("-occurred_at").first().occurred_at
    # The same instant as `newest`, written 16 hours behind UTC: nothing is newer.
    behind = (newest + dt.timedelta(microseconds=1)).astimezone(
        dt.timezone(-dt.timedelta(hours=16))
    )
    response = api_client_for("auditor").get(
        EVENTS, {"since": behind.isoformat(), "action": "org.reconciled"}
    )
    assert response.status_code == 200 and response.json()["results"] == []


@pytest.mark.django_db
@pytest.mark.parametrize("path", [EVENTS, EXPORT])
def test_a_range_that_ends_before_it_starts_is_a_400(api_client_for, events, path):
    client = api_client_for("auditor")
    exports = AuditEvent.objects.filter(action="audit.exported").count()
    response = client.get(
        path, {"since": "2026-01-02T00:00:00-16:00", "until": "2026-01-02T00:00:00+00:00"}
    )
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["fields"] == {"until": ["“Until” must be after “From”."]}
    assert AuditEvent.objects.filter(action="audit.exported").count() == exports


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["since=", "until=yesterday", "org=", "outcome="])
def test_the_export_refuses_a_bad_filter_before_streaming(api_client_for, events, query):
    response = api_client_for("auditor").get(f"{EXPORT}?{query}&format=csv")
    assert response.status_code == 400 and not response.streaming
    assert response["Content-Type"] == "application/json"
    field = query.split("=")[0]
    assert list(response.json()["error"]["fields"]) == [field]
