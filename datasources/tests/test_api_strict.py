"""Hostile input at the data source API, against the emulator: each is refused with a 4xx
naming the field and the rule, and nothing reaches Webex (the emulator's request log is the
witness); what is accepted is what Webex accepts."""

import logging

import pytest
from django.core.exceptions import ValidationError

from audit.models import AuditEvent
from datasources.models import DataSource, NonceRecord
from tenants.models import CustomerOrg
from webex_emulator.validation import host_in_domains, url_shape_problem

from .conftest import SCHEMA

LIST = "/api/v1/datasources/"
OTHER_SCHEMA = "1b2b7077-dbcd-4732-b2f9-296f9168168a"  # authorized too, but not the source's


def detail(ds, action: str = "") -> str:
    return f"/api/v1/datasources/{ds.public_id}/" + (f"{action}/" if action else "")


def payload(**overrides) -> dict:
    return {
        "schema_id": SCHEMA,
        "url": "https://rx.byods.example.com/feed",
        "audience": "byods-rx",
        "subject": "globex-voice",
        "token_lifetime_minutes": 60,
    } | overrides


@pytest.fixture
def ds(register):
    return register()


@pytest.fixture
def witness(emulator):
    """The emulator's request log, emptied: `witness()` lists what reached Webex since."""
    emulator.clear_requests_log()
    return emulator.requests_log


def refused(response, field: str, status: int = 400) -> list[str]:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert field in error["fields"], error
    return error["fields"][field]


# --- JSON types: no list, object, boolean or number turned into text (or text into a number)
WRONG_TYPES = [
    ("audience", ["a"], "Send a JSON string, not an array."),
    ("subject", {"v": 1}, "Send a JSON string, not an object."),
    ("url", ["https://rx.byods.example.com/feed"], "Send a JSON string, not an array."),
    ("audience", True, "Send a JSON string, not true/false."),
    ("subject", 42, "Send a JSON string, not an integer."),
    ("schema_id", None, "This field may not be null."),
    ("token_lifetime_minutes", "60", "not in quotes), not a string."),
    ("token_lifetime_minutes", 60.0, "not a decimal number."),
    ("token_lifetime_minutes", True, "not true/false."),
    ("token_lifetime_minutes", [60], "not an array."),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("field", "value", "rule"), WRONG_TYPES)
def test_it_rejects_a_wrong_json_type_on_register(api_client_for, org, witness, field, value, rule):
    body = payload(org=str(org.public_id)) | {field: value}
    response = api_client_for("operator").post(LIST, body, format="json")
    assert refused(response, field)[0].endswith(rule)
    assert witness() == [] and not DataSource.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("field", "value", "rule"), WRONG_TYPES)
def test_it_rejects_a_wrong_json_type_on_edit(api_client_for, ds, witness, field, value, rule):
    client = api_client_for("operator")
    for response in (
        client.put(detail(ds), payload() | {field: value}, format="json"),
        client.patch(detail(ds), {field: value}, format="json"),
    ):
        assert refused(response, field)[0].endswith(rule)
    assert witness() == []
    assert DataSource.objects.get(pk=ds.pk).audience == "byods-rx"


@pytest.mark.django_db
def test_it_rejects_list_in_audience(api_client_for, org, witness):
    body = payload(org=str(org.public_id), audience=["a"])
    response = api_client_for("operator").post(LIST, body, format="json")
    assert refused(response, "audience") == ["Send a JSON string, not an array."]
    assert witness() == []


@pytest.mark.django_db
def test_it_rejects_object_in_subject(api_client_for, ds, witness):
    response = api_client_for("operator").patch(detail(ds), {"subject": {"v": 1}}, format="json")
    assert refused(response, "subject") == ["Send a JSON string, not an object."]
    assert witness() == []


@pytest.mark.django_db
def test_it_rejects_list_in_disable_message(api_client_for, ds, witness):
    body = {"message": ["a", "b"]}
    response = api_client_for("operator").post(detail(ds, "disable"), body, format="json")
    assert refused(response, "message") == ["Send a JSON string, not an array."]
    assert witness() == [] and DataSource.objects.get(pk=ds.pk).status == "active"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [("audience", " byods-rx"), ("subject", "globex\tvoice"), ("audience", "x" * 201)],
)
def test_it_rejects_text_the_pages_would_trim_or_webex_would_refuse(
    api_client_for, ds, witness, field, value
):
    response = api_client_for("operator").patch(detail(ds), {field: value}, format="json")
    assert refused(response, field)
    assert witness() == []


@pytest.mark.django_db
def test_it_rejects_an_unknown_field_instead_of_ignoring_it(api_client_for, ds, witness):
    response = api_client_for("operator").patch(detail(ds), {"audiance": "typo"}, format="json")
    assert refused(response, "audiance")[0].startswith("Unknown field")
    assert witness() == []


@pytest.mark.django_db
def test_it_rejects_a_body_that_is_not_json(api_client_for, ds, witness):
    client = api_client_for("operator")
    form = client.patch(detail(ds), {"audience": "x"}, format="multipart")
    assert form.status_code == 415 and form.json()["error"]["code"] == "unsupported_media_type"
    surrogate = client.patch(detail(ds), '{"audience": "\\ud800"}', content_type="application/json")
    assert surrogate.status_code == 400 and "lone surrogate" in surrogate.json()["error"]["message"]
    assert witness() == []


# --- A body over the limit ------------------------------------------------------------------
@pytest.mark.django_db
def test_a_big_body_answers_413_naming_the_limit_without_a_traceback(
    api_client_for, org, witness, settings, caplog
):
    big = payload(org=str(org.public_id), audience="x" * (3 * 1024 * 1024))
    with caplog.at_level(logging.INFO):
        response = api_client_for("operator").post(LIST, big, format="json")
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "too_large" and error["fields"] == {}
    assert f"at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes" in error["message"]
    assert all(record.levelno < logging.ERROR for record in caplog.records)
    assert not any(record.exc_info for record in caplog.records)
    assert any(
        record.levelno == logging.WARNING and "refused (limit" in record.getMessage()
        for record in caplog.records
    )
    assert witness() == [] and not DataSource.objects.exists()


@pytest.mark.django_db
def test_a_big_body_elsewhere_keeps_djangos_answer(operator_client, settings):
    big = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1024)
    response = operator_client.post("/orgs/onboard/", {"name": big})
    assert response.status_code == 400 and response["Content-Type"].startswith("text/html")


# --- Host names: what we accept, Webex accepts ------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("https://f.byods.example.com./x", "https://f.byods.example.com/x"),
        ("https://F.BYODS.Example.com/X?a=B", "https://f.byods.example.com/X?a=B"),
        ("https://bücher.byods.example.com/x", "https://xn--bcher-kva.byods.example.com/x"),
        ("HTTPS://f.byods.example.com.:8443/x", "https://f.byods.example.com:8443/x"),
    ],
)
def test_it_stores_and_sends_the_host_as_webex_reads_it(
    api_client_for, org, emulator, typed, stored
):
    body = payload(org=str(org.public_id), url=typed)
    response = api_client_for("operator").post(LIST, body, format="json")
    assert response.status_code == 201, response.content
    ds = DataSource.objects.get(public_id=response.json()["id"])
    assert ds.url == stored == response.json()["url"]
    [sent] = emulator.requests_log(method="POST", path="/v1/dataSources")
    assert sent["status"] == 200
    assert {d["url"] for d in emulator.state()["dataSources"]} == {stored}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("https://f.byods.example.com:0/x", "port must be a number from 1 to 65535"),
        ("https://f.byods.example.com/a\\b", "backslashes"),
        ("https://f.byods.example.com../x", "not a valid host name"),
    ],
)
def test_it_refuses_what_webex_would_refuse_naming_url(api_client_for, org, witness, url, rule):
    body = payload(org=str(org.public_id), url=url)
    response = api_client_for("operator").post(LIST, body, format="json")
    assert rule in refused(response, "url")[0]
    assert witness() == []


def test_every_url_the_portal_accepts_the_emulator_accepts():
    from datasources.validation import check_url

    domains = ["byods.example.com"]
    candidates = [
        "https://f.byods.example.com./x",
        "https://F.BYODS.EXAMPLE.COM/x",
        "https://bücher.byods.example.com/x",
        "https://f.byods.example.com:443/x",
        "https://f.byods.example.com:/x",
        "https://byods.example.com",
        "https://a-b.c.byods.example.com/x?y=z",
        "https://f.byods.example.com:0/x",
        "https://f.byods.example.com/a\\b",
        "https://f.byods.example.com../x",
        "https://127.1/x",
    ]
    accepted = 0
    for url in candidates:
        try:
            sent = check_url(url, domains)
        except ValidationError:
            continue  # refused here: nothing reaches Webex
        accepted += 1
        assert url_shape_problem(sent) is None, (url, sent)
        assert host_in_domains(sent.split("/")[2].split(":")[0], domains), (url, sent)
    assert accepted == 7


# --- Edits: nothing to change sends nothing; the schema never changes ------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    "send",
    [
        lambda client, ds: client.patch(detail(ds), {}, format="json"),
        lambda client, ds: client.patch(detail(ds), {"audience": "byods-rx"}, format="json"),
        lambda client, ds: client.put(detail(ds), payload(), format="json"),
        lambda client, ds: client.put(
            detail(ds), {k: v for k, v in payload().items() if k != "schema_id"}, format="json"
        ),
    ],
)
def test_an_edit_that_changes_nothing_sends_nothing_and_says_so(api_client_for, ds, witness, send):
    client = api_client_for("operator")
    before = DataSource.objects.get(pk=ds.pk)
    events = AuditEvent.objects.count()
    response = send(client, ds)
    assert response.status_code == 200 and response["Portal-Unchanged"] == "true"
    assert response.json()["version"] == before.version
    after = DataSource.objects.get(pk=ds.pk)
    assert (after.nonce, after.version) == (before.nonce, before.version)
    assert NonceRecord.objects.filter(datasource=ds).count() == 1  # the registration's
    assert AuditEvent.objects.count() == events
    assert witness() == []


@pytest.mark.django_db
def test_an_edit_that_changes_something_says_nothing_of_the_kind(api_client_for, ds, emulator):
    response = api_client_for("operator").patch(detail(ds), {"audience": "new"}, format="json")
    assert response.status_code == 200 and "Portal-Unchanged" not in response
    assert len(emulator.requests_log(method="PUT")) == 1


@pytest.mark.django_db
def test_it_refuses_a_schema_change_before_any_call(api_client_for, ds, witness):
    client = api_client_for("operator")
    assert OTHER_SCHEMA in ds.org.authorized_schema_ids
    for response in (
        client.put(detail(ds), payload(schema_id=OTHER_SCHEMA, audience="x"), format="json"),
        client.patch(detail(ds), {"schema_id": OTHER_SCHEMA}, format="json"),
    ):
        [message] = refused(response, "schema_id")
        assert "Webex does not change a data source's schema" in message
    assert witness() == []
    assert DataSource.objects.get(pk=ds.pk).schema_id == SCHEMA


# --- States that forbid a change: the same 409 on every verb ---------------------------------
WRITES = {
    "put": lambda c, ds: c.put(detail(ds), payload(audience="x"), format="json"),
    "patch": lambda c, ds: c.patch(detail(ds), {"audience": "x"}, format="json"),
    "patch nothing": lambda c, ds: c.patch(detail(ds), {}, format="json"),
    "delete": lambda c, ds: c.delete(detail(ds) + "?reason=customer+left"),
    "disable": lambda c, ds: c.post(detail(ds, "disable"), {"message": "m"}, format="json"),
    "enable": lambda c, ds: c.post(detail(ds, "enable")),
    "rotate": lambda c, ds: c.post(detail(ds, "rotate")),
}


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["offboarded", "offboarding", "deauthorized"])
def test_an_org_that_is_not_active_answers_the_same_409_on_every_verb(
    api_client_for, ds, witness, status
):
    CustomerOrg.objects.filter(pk=ds.org_id).update(status=status)
    client = api_client_for("operator")
    errors = {name: send(client, ds) for name, send in WRITES.items()}
    assert {name: r.status_code for name, r in errors.items()} == dict.fromkeys(WRITES, 409)
    bodies = {str(r.json()) for r in errors.values()}
    assert len(bodies) == 1, bodies  # the same answer, whatever the verb
    error = next(iter(errors.values())).json()["error"]
    assert error["code"] == "org_not_active"
    assert (
        error["message"] == f"Globex Retail is {status}: changes reach Webex only for active orgs."
    )
    assert client.get(detail(ds)).status_code == 200
    assert witness() == []


@pytest.mark.django_db
def test_a_deleted_data_source_answers_409_to_every_change_and_404_to_reads(
    api_client_for, ds, emulator
):
    client = api_client_for("operator")
    assert client.delete(detail(ds) + "?reason=customer+left").status_code == 204
    emulator.clear_requests_log()
    ds.refresh_from_db()
    errors = {name: send(client, ds) for name, send in WRITES.items()}
    assert {name: r.status_code for name, r in errors.items()} == dict.fromkeys(WRITES, 409)
    assert {r.json()["error"]["code"] for r in errors.values()} == {"deleted"}
    assert client.get(detail(ds)).status_code == 404
    assert emulator.requests_log() == []


@pytest.mark.django_db
def test_a_disabled_data_source_refuses_rotation_and_a_second_disable(api_client_for, ds, emulator):
    client = api_client_for("operator")
    assert client.post(detail(ds, "disable"), {"message": "m"}, format="json").status_code == 200
    emulator.clear_requests_log()
    rotate = client.post(detail(ds, "rotate"))
    again = client.post(detail(ds, "disable"), {"message": "m"}, format="json")
    assert (rotate.status_code, rotate.json()["error"]["code"]) == (409, "disabled")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "already_disabled")
    assert emulator.requests_log() == []
