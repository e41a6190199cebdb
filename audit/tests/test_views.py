import csv
import io
import uuid

import pytest
from django.db import transaction
from django.urls import reverse

from audit.context import Actor
from audit.models import AuditEvent
from audit.services import audit_record
from audit.vocabulary import Action

pytestmark = pytest.mark.django_db
ORG = uuid.UUID("11111111-2222-3333-4444-555555555555")
DS = uuid.UUID("99999999-8888-7777-6666-555555555555")
READERS = {"operator", "auditor"}


@pytest.fixture
def events():
    made = []
    with transaction.atomic():
        made.append(
            audit_record(
                action=Action.ORG_ONBOARDED,
                summary="Onboarded Globex",
                org_id=ORG,
                actor=Actor.system("test"),
                target_type="org",
                target_id=ORG,
            )
        )
        made.append(
            audit_record(
                action=Action.DATASOURCE_ROTATED,
                summary="Rotated Voice VA",
                org_id=ORG,
                actor=Actor.system("rotation"),
                target_type="datasource",
                target_id=DS,
                tracking_id="WEBEX_T1",
            )
        )
        made.append(
            audit_record(
                action=Action.DATASOURCE_ROTATION_FAILED,
                summary="=cmd|' /C calc'!A0",
                actor=Actor.system("rotation"),
                outcome="failed",
                error="503 from Webex",
            )
        )
    return made


PAGES = [
    ("audit:log", {}),
    ("audit:export", {}),
    ("audit:org_timeline", {"org_id": ORG}),
    ("audit:datasource_timeline", {"datasource_id": DS}),
]


@pytest.mark.parametrize("persona", ["operator", "onboarding", "auditor", "norole", "anonymous"])
@pytest.mark.parametrize(("name", "kwargs"), PAGES)
def test_audit_pages_by_persona(client_for, events, persona, name, kwargs):
    response = client_for(persona).get(reverse(name, kwargs=kwargs))
    if persona == "anonymous":
        assert response.status_code == 302 and "/login/" in response.url
    elif persona in READERS:
        assert response.status_code == 200
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("persona", ["operator", "onboarding", "auditor", "norole", "anonymous"])
def test_event_detail_by_persona(client_for, events, persona):
    response = client_for(persona).get(reverse("audit:event", args=[events[1].public_id]))
    expected = 302 if persona == "anonymous" else 200 if persona in READERS else 403
    assert response.status_code == expected
    if expected == 200:
        assert b"WEBEX_T1" in response.content


def test_audit_pages_refuse_writes(auditor_client, events):
    for name, kwargs in PAGES:
        assert auditor_client.post(reverse(name, kwargs=kwargs)).status_code == 405


def test_the_log_filters_by_outcome_and_org(auditor_client, events):
    html = auditor_client.get(reverse("audit:log"), {"outcome": "failed"}).content.decode()
    assert "503 from Webex" in html and "Onboarded Globex" not in html
    html = auditor_client.get(reverse("audit:org_timeline", args=[ORG])).content.decode()
    assert "Onboarded Globex" in html and "Rotated Voice VA" in html and "calc" not in html


def test_a_bad_filter_names_the_field(auditor_client, events):
    response = auditor_client.get(reverse("audit:log"), {"org": "not-a-uuid", "outcome": "maybe"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "No org is named “not-a-uuid”" in html
    assert "Select a valid choice. maybe is not one of the available choices." in html
    assert "Fix the filter above" in html


def test_until_must_follow_from(auditor_client, events):
    response = auditor_client.get(
        reverse("audit:log"), {"since": "2026-01-02T00:00", "until": "2026-01-01T00:00"}
    )
    assert "“Until” must be after “From”." in response.content.decode()


def test_the_empty_states_say_what_to_do(client, django_user_model, auditor_client, events):
    html = auditor_client.get(reverse("audit:log"), {"actor": "nobody"}).content.decode()
    assert "No events match this filter" in html


def test_an_empty_trail_explains_itself(auditor_client, monkeypatch):
    # Signing in already records an event, so an empty trail is shown with an empty query.
    monkeypatch.setattr("audit.views.audit_events", lambda flt: AuditEvent.objects.none())
    assert "Nothing recorded yet" in auditor_client.get(reverse("audit:log")).content.decode()


def test_paging_past_the_end_says_so(auditor_client, events):
    html = auditor_client.get(reverse("audit:log"), {"before": 1}).content.decode()
    assert "No more events this way" in html and "Nothing recorded yet" not in html


def test_export_is_recorded_and_hidden_for_a_bad_filter(auditor_client, events):
    b"".join(auditor_client.get(reverse("audit:export"), {"outcome": "failed"}).streaming_content)
    event = AuditEvent.objects.get(action="audit.exported")
    assert event.actor == "auditor@example.com"
    assert event.changes["filter"]["after"] == {"outcome": "failed"}
    html = auditor_client.get(reverse("audit:log"), {"org": "bad"}).content.decode()
    assert "Export CSV" not in html


def test_paging_links_walk_the_log(auditor_client, events, monkeypatch):
    monkeypatch.setattr("audit.views.PAGE_SIZE", 2)
    first = auditor_client.get(reverse("audit:log")).content.decode()
    assert f"before={events[1].id}" in first and "after=" not in first
    second = auditor_client.get(reverse("audit:log"), {"before": events[1].id}).content.decode()
    assert "Onboarded Globex" in second and f"after={events[0].id}" in second


def test_csv_export_streams_the_filtered_rows_and_defuses_formulas(auditor_client, events):
    response = auditor_client.get(reverse("audit:export"), {"actor": "system:rotation"})
    assert response.streaming
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["summary"] for r in rows] == ["'=cmd|' /C calc'!A0", "Rotated Voice VA"]
    assert rows[1]["tracking_id"] == "WEBEX_T1" and rows[1]["hash"] == events[1].hash


def test_csv_export_streams_row_by_row(auditor_client, events, django_assert_num_queries):
    response = auditor_client.get(reverse("audit:export"))
    chunks = iter(response.streaming_content)
    with django_assert_num_queries(0):  # the header goes out before the database is read
        assert next(chunks).startswith(b"occurred_at,public_id")
    with django_assert_num_queries(1):  # rows come from one cursor, chunk by chunk
        first = next(chunks)
        rest = list(chunks)
    assert len(rest) + 1 == AuditEvent.objects.count()
    assert first.decode().startswith(events[-1].occurred_at.isoformat()[:19])


def test_a_timeline_exports_only_its_own_events(auditor_client, events):
    html = auditor_client.get(reverse("audit:org_timeline", args=[ORG])).content.decode()
    assert f"export.csv?org={ORG}" in html
    body = b"".join(
        auditor_client.get(reverse("audit:export"), {"org": str(ORG)}).streaming_content
    )
    assert b"Onboarded Globex" in body and b"calc" not in body


def test_a_malformed_cursor_is_ignored(auditor_client, events):
    assert auditor_client.get(reverse("audit:log"), {"before": "²"}).status_code == 200
