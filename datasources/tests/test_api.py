"""The data source API against the emulator: the same rules and messages as the pages."""

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from datasources.models import DataSource
from tenants.models import CustomerOrg

from .conftest import SCHEMA

LIST = "/api/v1/datasources/"


def detail(ds) -> str:
    return f"/api/v1/datasources/{ds.public_id}/"


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


def remote(emulator, ds):
    return next(d for d in emulator.state()["dataSources"] if d["id"] == ds.webex_id)


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["operator", "onboarding"])
def test_register_creates_it_at_webex(api_client_for, org, emulator, role):
    client = api_client_for(role)
    response = client.post(LIST, payload(org=str(org.public_id)), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    ds = DataSource.objects.get(public_id=body["id"])
    assert body["url"] == ds.url and body["org"] == str(org.public_id)
    assert body["health"] == "healthy" and remote(emulator, ds)["url"] == ds.url
    event = AuditEvent.objects.get(action="datasource.registered", outcome="ok")
    assert event.actor == f"api:{client.api_key.prefix}" and event.actor_type == "api"


@pytest.mark.django_db
def test_register_errors_are_the_forms_errors(api_client_for, onboarding_client, org, emulator):
    bad = payload(url="https://byods.example.com.evil.io/x", token_lifetime_minutes=0, audience="")
    page = onboarding_client.post(
        reverse("datasources:register", args=[org.public_id]),
        {k: str(v) for k, v in bad.items()},
    )
    form_errors = {k: list(v) for k, v in page.context["form"].errors.items()}
    response = api_client_for("onboarding").post(
        LIST, bad | {"org": str(org.public_id)}, format="json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and error["fields"] == form_errors
    assert set(error["fields"]) == {"audience"}  # the form stops at shape errors first
    fixed = bad | {"audience": "byods-rx", "org": str(org.public_id)}
    rules = api_client_for("onboarding").post(LIST, fixed, format="json").json()["error"]
    page = onboarding_client.post(
        reverse("datasources:register", args=[org.public_id]),
        {k: str(v) for k, v in fixed.items()},
    )
    assert rules["fields"] == {k: list(v) for k, v in page.context["form"].errors.items()}
    assert "is not one of this org's authorized domains" in rules["fields"]["url"][0]
    assert "from 1 to 1440 minutes" in rules["fields"]["token_lifetime_minutes"][0]
    assert emulator.requests_log(method="POST", path="/v1/dataSources") == []


@pytest.mark.django_db
def test_register_names_a_missing_or_unknown_org(api_client_for, org):
    client = api_client_for("operator")
    assert client.post(LIST, payload(), format="json").json()["error"]["fields"] == {
        "org": ["This field is required."]
    }
    unknown = client.post(LIST, payload(org="not-a-uuid"), format="json").json()["error"]
    assert unknown["fields"] == {"org": ["No such org."]}


@pytest.mark.django_db
def test_register_refused_for_an_inactive_org(api_client_for, org, emulator):
    CustomerOrg.objects.filter(pk=org.pk).update(status=CustomerOrg.Status.DEAUTHORIZED)
    response = api_client_for("operator").post(LIST, payload(org=str(org.public_id)), format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "org_not_active"
    assert emulator.state()["dataSources"] == []


@pytest.mark.django_db
def test_a_webex_refusal_is_a_502_with_its_tracking_id(api_client_for, org, emulator):
    emulator.set_faults(
        [{"method": "POST", "pathRegex": "/v1/dataSources", "kind": "status", "status": 400}]
    )
    response = api_client_for("operator").post(LIST, payload(org=str(org.public_id)), format="json")
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "webex_refused" and "trackingId" in error["message"]
    assert not DataSource.objects.exists()


@pytest.mark.django_db
def test_list_filters_as_the_page_does(api_client_for, register):
    a = register()
    b = register(url="https://tx.byods.example.com/other", audience="tx")
    client = api_client_for("auditor")
    everything = client.get(LIST).json()
    assert everything["count"] == 2 and [r["id"] for r in everything["results"]] == [
        str(a.public_id),
        str(b.public_id),
    ]
    assert [r["id"] for r in client.get(LIST, {"q": "tx.byods"}).json()["results"]] == [
        str(b.public_id)
    ]
    assert client.get(LIST, {"sort": "-url"}).json()["results"][0]["id"] == str(b.public_id)
    assert client.get(LIST, {"status": "disabled"}).json()["count"] == 0
    assert client.get(LIST, {"health": "healthy"}).json()["count"] == 2
    assert client.get(LIST, {"org": str(a.org.public_id)}).json()["count"] == 2
    assert client.get(LIST, {"page_size": 1}).json()["next"].endswith("page=2&page_size=1")
    bad = client.get(LIST, {"status": "gone", "health": "x"})
    assert bad.status_code == 400
    assert set(bad.json()["error"]["fields"]) == {"status", "health"}


@pytest.mark.django_db
def test_retrieve_shows_state_but_no_nonce(api_client_for, ds):
    response = api_client_for("auditor").get(detail(ds))
    assert response.status_code == 200
    assert response.json()["token_lifetime_minutes"] == 60
    assert ds.nonce not in response.content.decode()


@pytest.mark.django_db
def test_put_and_patch_edit_it_at_webex(api_client_for, ds, emulator):
    client = api_client_for("onboarding")
    response = client.put(detail(ds), payload(audience="byods-rx-2"), format="json")
    assert response.status_code == 200 and response.json()["audience"] == "byods-rx-2"
    assert remote(emulator, ds)["audience"] == "byods-rx-2"
    response = client.patch(detail(ds), {"token_lifetime_minutes": 30}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["token_lifetime_minutes"] == 30 and body["audience"] == "byods-rx-2"
    bad = client.patch(detail(ds), {"url": "http://rx.byods.example.com/x"}, format="json")
    assert bad.json()["error"]["fields"] == {
        "url": ["The URL must start with https:// (Webex only calls secure endpoints)."]
    }
    assert AuditEvent.objects.filter(action="datasource.updated").count() == 2


@pytest.mark.django_db
def test_disable_needs_a_message_then_enable(api_client_for, ds, emulator, operator_client):
    client = api_client_for("operator")
    url = detail(ds) + "disable/"
    refused = client.post(url, {"message": ""}, format="json")
    page = operator_client.post(
        reverse("datasources:disable", args=[ds.public_id]), {"message": ""}
    )
    assert refused.json()["error"]["fields"] == {
        k: list(v) for k, v in page.context["form"].errors.items()
    }
    response = client.post(url, {"message": "Upgrade until 18:00"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "disabled"
    assert remote(emulator, ds)["status"] == "disabled"
    again = client.post(url, {"message": "again"}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_disabled"
    enabled = client.post(detail(ds) + "enable/")
    assert enabled.status_code == 200 and enabled.json()["status"] == "active"
    assert client.post(detail(ds) + "enable/").json()["error"]["code"] == "already_active"


@pytest.mark.django_db
def test_delete_needs_a_reason(api_client_for, ds, emulator):
    client = api_client_for("operator")
    refused = client.delete(detail(ds))
    assert refused.status_code == 400
    assert refused.json()["error"]["fields"] == {
        "reason": ["Give a reason (at least 5 characters)."]
    }
    assert client.delete(detail(ds) + "?reason=customer+cancelled").status_code == 204
    assert emulator.state()["dataSources"] == []
    assert client.get(detail(ds)).status_code == 404
    assert AuditEvent.objects.get(action="datasource.deleted").reason == "customer cancelled"


@pytest.mark.django_db
def test_rotate_now(api_client_for, ds, emulator):
    before = ds.nonce
    response = api_client_for("onboarding").post(detail(ds) + "rotate/")
    assert response.status_code == 200
    assert response.json()["outcome"] == "rotated"
    ds.refresh_from_db()
    assert ds.nonce != before and remote(emulator, ds)["nonce"] == ds.nonce
    assert ds.nonce not in response.content.decode()


@pytest.mark.django_db
def test_rotate_reports_a_failure(api_client_for, ds, emulator):
    emulator.set_faults(
        [{"method": "PUT", "pathRegex": "/v1/dataSources/", "kind": "status", "status": 503}]
    )
    body = api_client_for("operator").post(detail(ds) + "rotate/").json()
    assert body["outcome"] == "failed" and body["datasource"]["consecutive_failures"] == 1


@pytest.mark.django_db
def test_refused_writes_change_nothing(api_client_for, ds, emulator):
    client = api_client_for("auditor")
    before = AuditEvent.objects.count()
    assert client.put(detail(ds), payload(audience="x"), format="json").status_code == 403
    assert client.post(detail(ds) + "disable/", {"message": "m"}, format="json").status_code == 403
    assert client.delete(detail(ds) + "?reason=because").status_code == 403
    onboarding = api_client_for("onboarding")
    assert onboarding.delete(detail(ds) + "?reason=because").status_code == 403
    assert AuditEvent.objects.count() == before + 1  # only the onboarding key's creation
    assert remote(emulator, ds)["audience"] == ds.audience


@pytest.mark.django_db
def test_a_change_while_a_rotation_is_in_flight_is_refused_with_409_busy(
    api_client_for, ds, emulator, monkeypatch
):
    """Every verb that changes the data source meets the same single-flight answer while a
    rotation holds it at Webex; nothing of theirs reaches Webex."""
    from datasources import services
    from webex.client import WebexClient

    client = api_client_for("operator")
    real, answers = WebexClient.update_datasource, {}

    def others_meanwhile(self, **kwargs):
        if not answers:
            answers["patch"] = client.patch(detail(ds), {"audience": "x-2"}, format="json")
            answers["disable"] = client.post(detail(ds) + "disable/", {"message": "m"})
            answers["delete"] = client.delete(detail(ds) + "?reason=Customer+asked")
            answers["rotate"] = client.post(detail(ds) + "rotate/")
        return real(self, **kwargs)

    monkeypatch.setattr(WebexClient, "update_datasource", others_meanwhile)
    emulator.clear_requests_log()
    result = services.datasource_rotate(ds_id=ds.pk, force=True, actor=services.Actor.system("t"))
    assert result.outcome == "rotated"
    for verb in ("patch", "disable", "delete"):
        response = answers[verb]
        assert response.status_code == 409, (verb, response.json())
        assert response.json()["error"]["code"] == "busy" and response["Retry-After"] == "5"
        assert "in flight at Webex" in response.json()["error"]["message"]
    assert answers["rotate"].json()["outcome"] == "in_progress"
    assert [r["method"] for r in emulator.requests_log(path=f"/v1/dataSources/{ds.webex_id}")] == [
        "PUT"
    ]
