"""The bulk operation API: every endpoint per role, the forms' messages, and a whole run
against the emulator (start, run the task, poll, read the items, retry after a fault)."""

import uuid

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from audit.context import Actor
from audit.models import AuditEvent
from datasources.models import DataSource
from operations import services, tasks
from operations.models import BulkItem, BulkOperation
from operations.selectors import Selection
from tenants.models import OrgToken

from .conftest import fail_puts_to

BASE = "/api/v1/bulk-operations/"
PREVIEW = BASE + "preview/"
ROLES = ["operator", "onboarding", "auditor", "verifier", "nokey"]
READ = {"operator", "onboarding", "auditor"}
EDIT = {"operator", "onboarding"}
OPERATE = {"operator"}


@pytest.fixture
def client_of(api_client_for):
    def make(role: str) -> APIClient:
        return APIClient() if role == "nokey" else api_client_for(role)

    return make


@pytest.fixture
def queued(monkeypatch):
    """Operations the API hands to the worker (run with `run_to_the_end`)."""
    ids = Queued()
    monkeypatch.setattr(tasks.run, "delay_on_commit", ids.append)
    monkeypatch.setattr(tasks.run, "delay", ids.chained.append)
    return ids


class Queued(list):
    """Ids scheduled on commit; `chained`: the next chunk each run queues."""

    def __init__(self):
        super().__init__()
        self.chained: list[int] = []


def run_to_the_end(op_id: int, queued) -> int:
    """What the worker does: the task, then each next chunk it queues; returns the runs."""
    runs = 0
    pending = [op_id]
    while pending:
        assert pending.pop() == op_id
        tasks.run.apply(args=[op_id]).get()
        runs += 1
        pending += queued.chained
        queued.chained.clear()
    return runs


def expect(response, role, allowed, ok):
    if role == "nokey":
        assert response.status_code == 401, response.content
        assert response.json()["error"]["code"] == "not_authenticated"
    elif role in allowed:
        assert response.status_code == ok, response.content
    else:
        assert response.status_code == 403, response.content
        assert response.json()["error"]["code"] == "permission_denied"


def selection(kind, *sources, **extra) -> dict:
    return {
        "kind": kind,
        "target_type": "datasource",
        "ids": [str(s.public_id) for s in sources],
    } | extra


def finished_op(sources, user, kind="rotate", params=None) -> BulkOperation:
    op = services.bulk_operation_start(
        kind=kind,
        selection=Selection("datasource", tuple(s.public_id for s in sources)),
        params=params or {},
        user=user,
    )
    while services.bulk_operation_run(operation_id=op.pk):
        pass
    op.refresh_from_db()
    return op


# ------------------------------------------------------------------------- per role
@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_preview_rotate_by_role(client_of, sources, role):
    response = client_of(role).post(PREVIEW, selection("rotate", *sources[:3]), format="json")
    expect(response, role, EDIT, 200)
    if role in EDIT:
        body = response.json()
        assert (body["total"], body["will_change"], body["skipped_count"]) == (3, 3, 0)
        assert body["selection"] == "3 selected data sources"
        assert any(sources[0].url in label for label in body["sample"])
    assert not BulkOperation.objects.exists()  # a preview changes nothing


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_preview_disable_by_role(client_of, sources, role):
    response = client_of(role).post(PREVIEW, selection("disable", *sources), format="json")
    expect(response, role, OPERATE, 200)
    if role == "onboarding":  # may rotate, as on the pages, but not disable
        assert response.json()["error"]["message"] == "Your role may not start this bulk action."


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_start_disable_by_role(client_of, sources, role, queued):
    body = selection("disable", *sources[:2], message="Planned maintenance")
    response = client_of(role).post(BASE, body, format="json")
    expect(response, role, OPERATE, 202)
    ops = BulkOperation.objects.all()
    assert ops.count() == (1 if role in OPERATE else 0)
    if role in OPERATE:
        op = ops.get()
        assert response.json()["id"] == str(op.public_id)
        assert response.json()["state"] == "pending" and response.json()["total"] == 2
        assert queued == [op.pk]
    else:
        assert queued == []


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_start_rotate_by_role(client_of, sources, role, queued):
    response = client_of(role).post(BASE, selection("rotate", sources[0]), format="json")
    expect(response, role, EDIT, 202)
    assert len(queued) == (1 if role in EDIT else 0)


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_list_detail_and_items_by_role(client_of, sources, operator_user, emulator, role):
    op = finished_op(sources[:2], operator_user)
    client = client_of(role)
    listed = client.get(BASE)
    expect(listed, role, READ, 200)
    one = client.get(f"{BASE}{op.public_id}/")
    expect(one, role, READ, 200)
    items = client.get(f"{BASE}{op.public_id}/items/")
    expect(items, role, READ, 200)
    if role in READ:
        assert [o["id"] for o in listed.json()["results"]] == [str(op.public_id)]
        assert one.json()["percent"] == 100 and one.json()["state"] == "done"
        assert one.json()["created_by"] == operator_user.get_username()
        assert {i["target_id"] for i in items.json()["results"]} == {
            str(s.public_id) for s in sources[:2]
        }


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_retry_failures_by_role(client_of, sources, operator_user, emulator, role, queued):
    fail_puts_to(emulator, sources[0])
    op = finished_op(sources[:2], operator_user)
    assert op.failed == 1
    response = client_of(role).post(f"{BASE}{op.public_id}/retry-failures/")
    expect(response, role, EDIT, 202)
    retries = BulkOperation.objects.filter(retry_of=op)
    assert retries.count() == (1 if role in EDIT else 0)
    if role in EDIT:
        assert response.json()["retry_of"] == str(op.public_id)
        assert queued == [retries.get().pk]


@pytest.mark.django_db
def test_onboarding_may_not_retry_a_disable(client_of, sources, operator_user, emulator):
    fail_puts_to(emulator, sources[0])
    op = finished_op(sources[:1], operator_user, kind="disable", params={"message": "m"})
    response = client_of("onboarding").post(f"{BASE}{op.public_id}/retry-failures/")
    assert response.status_code == 403
    assert not BulkOperation.objects.filter(retry_of=op).exists()


# ------------------------------------------------------------------------- validation
@pytest.mark.django_db
def test_a_disable_without_message_is_refused_with_the_forms_message(
    client_of, operator_client, sources, queued
):
    response = client_of("operator").post(BASE, selection("disable", sources[0]), format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    page = operator_client.post(
        reverse("operations:start"),
        {"kind": "disable", "target": "datasource", "ids": [str(sources[0].public_id)]},
    )
    assert error["fields"] == {k: list(v) for k, v in page.context["confirm"].errors.items()}
    assert error["fields"]["message"] == [
        "Disabling needs a message: the customer's admin sees it in Control Hub."
    ]
    too_long = selection("disable", sources[0], message="x" * 257)
    response = client_of("operator").post(BASE, too_long, format="json")
    assert "message" in response.json()["error"]["fields"]
    assert not BulkOperation.objects.exists() and queued == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field", "text"),
    [
        ({"target_type": "datasource", "ids": []}, "kind", "required"),
        ({"kind": "explode", "target_type": "datasource"}, "kind", "not one of"),
        ({"kind": "rotate", "target_type": "planet", "ids": []}, "target_type", "not one of"),
        ({"kind": "rotate", "target_type": "datasource"}, "ids", "Select at least one row"),
        ({"kind": "rotate", "target_type": "datasource", "ids": ["nope"]}, "ids", "Not a valid"),
        ({"kind": "rotate", "target_type": "datasource", "ids": "x"}, "ids", "a JSON array"),
        (
            {"kind": "offboard", "target_type": "datasource", "ids": [str(uuid.uuid4())]},
            "kind",
            "applies to orgs only",
        ),
        (
            {"kind": "rotate", "target_type": "datasource", "all": True, "filters": {"x": "1"}},
            "filters",
            "Unknown filter: x",
        ),
        (
            {"kind": "rotate", "target_type": "org", "all": True, "filters": {"health": "ok"}},
            "filters",
            "Unknown filter: health",
        ),
        (
            {
                "kind": "rotate",
                "target_type": "datasource",
                "all": True,
                "filters": {"q": "x" * 201},
            },
            "filters.q",
            "at most 200",
        ),
    ],
)
def test_bad_selections_name_the_field_and_the_rule(client_of, body, field, text):
    response = client_of("operator").post(PREVIEW, body, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert text in " ".join(error["fields"][field]), error


@pytest.mark.django_db
def test_all_matching_the_filters_selects_as_the_list_does(client_of, sources, org):
    DataSource.objects.filter(pk=sources[0].pk).update(
        status=DataSource.Status.DISABLED, error_message="Paused"
    )
    body = {
        "kind": "enable",
        "target_type": "datasource",
        "all": True,
        "filters": {"status": "disabled", "org": str(org.public_id)},
    }
    preview = client_of("operator").post(PREVIEW, body, format="json").json()
    assert (preview["total"], preview["will_change"]) == (1, 1)
    assert "status=disabled" in preview["selection"]


@pytest.mark.django_db
def test_offboarding_needs_the_typed_count_as_on_the_page(client_of, org, queued):
    body = {
        "kind": "offboard",
        "target_type": "org",
        "ids": [str(org.public_id)],
        "mode": "disable",
        "reason": "Contract ended",
        "confirm_count": 2,
    }
    response = client_of("operator").post(BASE, body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["confirm_count"] == [
        "Type 1: the number of orgs the preview says will be offboarded."
    ]
    response = client_of("operator").post(BASE, body | {"confirm_count": 1}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["mode"] == "disable" and response.json()["reason"] == "Contract ended"


@pytest.mark.django_db
def test_unknown_ids_and_bad_filters_answer_in_the_error_format(
    client_of, sources, operator_user, emulator
):
    client = client_of("auditor")
    missing = client.get(f"{BASE}{uuid.uuid4()}/")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert client.get(BASE, {"state": "exploded"}).status_code == 400
    op = finished_op(sources[:1], operator_user)
    bad = client.get(f"{BASE}{op.public_id}/items/", {"state": "exploded"})
    assert bad.status_code == 400
    assert "Choose one of" in bad.json()["error"]["fields"]["state"][0]


@pytest.mark.django_db
def test_retrying_an_unfinished_or_clean_operation_is_a_conflict(
    client_of, sources, operator_user, emulator
):
    running = services.bulk_operation_start(
        kind="rotate",
        selection=Selection("datasource", (sources[0].public_id,)),
        actor=Actor.system("test"),
    )
    client = client_of("operator")
    response = client.post(f"{BASE}{running.public_id}/retry-failures/")
    assert response.status_code == 409 and response.json()["error"]["code"] == "not_done"
    clean = finished_op(sources[1:2], operator_user)
    response = client.post(f"{BASE}{clean.public_id}/retry-failures/")
    assert response.status_code == 409 and response.json()["error"]["code"] == "no_failures"
    assert response.json()["error"]["message"] == "This operation has no failures to retry."


@pytest.mark.django_db
def test_the_list_filters_by_kind_and_state(client_of, sources, operator_user, emulator):
    rotated = finished_op(sources[:1], operator_user)
    disabled = finished_op(sources[1:2], operator_user, "disable", {"message": "m"})
    client = client_of("auditor")

    def ids(**query):
        return [o["id"] for o in client.get(BASE, query).json()["results"]]

    assert ids() == [str(disabled.public_id), str(rotated.public_id)]
    assert ids(kind="rotate") == [str(rotated.public_id)]
    assert ids(kind="disable", state="done") == [str(disabled.public_id)]
    assert ids(state="running") == []


# ------------------------------------------------------------------------- end to end
@pytest.mark.django_db
def test_a_bulk_disable_over_the_api_runs_reports_and_retries_its_failures(
    client_of, operator_client, sources, emulator, queued, settings
):
    settings.BULK_CHUNK_SIZE = 2  # several task runs, each queueing the next
    client = client_of("operator")
    fail_puts_to(emulator, sources[2])
    body = selection("disable", *sources, message="Planned maintenance")
    preview = client.post(PREVIEW, body, format="json").json()
    assert (preview["total"], preview["will_change"]) == (4, 4)

    started = client.post(BASE, body, format="json")
    assert started.status_code == 202
    op_id = started.json()["id"]
    assert queued == [BulkOperation.objects.get(public_id=op_id).pk]
    assert client.get(f"{BASE}{op_id}/").json()["percent"] == 0

    assert run_to_the_end(queued[0], queued) == 2  # two chunks of two
    done = client.get(f"{BASE}{op_id}/").json()
    assert done["state"] == "done" and done["percent"] == 100
    assert (done["total"], done["succeeded"], done["failed"], done["skipped"]) == (4, 3, 1, 0)
    assert done["message"] == "Planned maintenance"
    remote = {d["id"]: d for d in emulator.state()["dataSources"]}
    for ds in sources:
        ds.refresh_from_db()
        expected = "active" if ds == sources[2] else "disabled"
        assert ds.status == expected and remote[ds.webex_id]["status"] == expected

    failed = client.get(f"{BASE}{op_id}/items/", {"state": "failed"}).json()
    assert failed["count"] == 1
    item = failed["results"][0]
    assert item["target_id"] == str(sources[2].public_id) and item["state"] == "failed"
    assert "Injected failure" in item["reason"]
    everything = client.get(f"{BASE}{op_id}/items/", {"page_size": 2}).json()
    assert everything["count"] == 4 and len(everything["results"]) == 2 and everything["next"]

    # Every change is audited as a single-target API call by this key would be.
    key_label = f"api:{client.api_key.prefix}"
    disabled = AuditEvent.objects.filter(action="datasource.disabled", outcome="ok")
    assert disabled.count() == 3 and set(disabled.values_list("actor", flat=True)) == {key_label}
    assert AuditEvent.objects.get(action="bulk.started").actor == key_label
    assert done["created_by"] == key_label
    page = operator_client.get(reverse("operations:detail", args=[op_id])).content.decode()
    assert f"Started by {key_label}" in page

    emulator.clear_faults()
    retried = client.post(f"{BASE}{op_id}/retry-failures/")
    assert retried.status_code == 202
    retry = retried.json()
    assert retry["retry_of"] == op_id and retry["total"] == 1
    run_to_the_end(queued[-1], queued)
    retry = client.get(f"{BASE}{retry['id']}/").json()
    assert (retry["state"], retry["succeeded"], retry["failed"]) == ("done", 1, 0)
    sources[2].refresh_from_db()
    assert sources[2].status == "disabled"
    assert BulkItem.objects.filter(state="failed", operation__public_id=retry["id"]).count() == 0

    token = OrgToken.objects.get(org=sources[0].org)
    bodies = [started.content.decode(), retried.content.decode(), str(failed)]
    for secret in (token.access_token, token.refresh_token, sources[0].nonce):
        assert not any(secret in b for b in bodies)
