"""The sandbox "Paste tokens" page: a pasted pair is proven with Webex (the emulator, over real
HTTP) and the org's authorization snapshot taken before the org becomes active; a bad pair is
refused beside its field and nothing is stored."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from datasources.models import DataSource
from tenants import services
from tenants.models import CustomerOrg, OrgToken
from webex.client import WebexClient

from .conftest import SYSTEM

Status = CustomerOrg.Status
PERSONAS = ["operator", "onboarding", "auditor", "norole", "anonymous"]
ONBOARD = {"operator", "onboarding"}
SCHEMA = "5397013b-7920-4ffc-807c-e8a3e0a18f43"
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def genuine_pair(webex_world, org_id=None) -> tuple[str, str]:
    """A pair Webex issued for the org, fetched the way the partner would, never stored here."""
    pair = WebexClient(api_base=webex_world.api_base).org_token(
        integration_token=webex_world.integration_token,
        client_id=webex_world.client_id,
        client_secret=webex_world.client_secret,
        target_org_id=org_id or webex_world.org_id,
    )
    return pair.access_token, pair.refresh_token


def form(access, refresh, **extra):
    return {"access_token": access, "refresh_token": refresh} | extra


@pytest.fixture
def sandbox_org(portal_app, webex_world):
    """An org recorded by the wizard's step 2 (pending), as staff create it before pasting."""
    return services.org_onboarding_start(
        app=portal_app,
        webex_org_id=webex_world.org_id,
        name="Globex Retail",
        region="us",
        actor=SYSTEM,
    )


def paste_url(org):
    return reverse("tenants:org_tokens_paste", args=[org.public_id])


def org_row(org) -> dict:
    return CustomerOrg.objects.filter(pk=org.pk).values().get()


def writes(emulator) -> list[str]:
    return [f"{r['method']} {r['path']}" for r in emulator.requests_log() if r["method"] in WRITES]


@pytest.mark.django_db
def test_it_refuses_garbage_pasted_tokens(operator_client, sandbox_org, emulator):
    before = org_row(sandbox_org)
    emulator.clear_requests_log()
    response = operator_client.post(
        paste_url(sandbox_org), form("garbage-token-123", "garbage-token-456")
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="id_access_token_error"' in html
    assert "Webex does not accept this access token" in html and "trackingId" in html
    assert "garbage-token-123" not in html and "garbage-token-456" not in html
    # Nothing stored, nothing written at Webex (only the read that proved the token bad).
    assert org_row(sandbox_org) == before
    assert not OrgToken.objects.filter(org=sandbox_org).exists()
    assert writes(emulator) == []
    assert [r["status"] for r in emulator.requests_log(path="/v1/dataSources")] == [401]
    failed = AuditEvent.objects.get(action="org.tokens_fetched")
    assert failed.outcome == "failed" and failed.org_id == sandbox_org.public_id
    assert failed.tracking_id and failed.tracking_id in html
    assert "access_token" in failed.error and "garbage" not in str(failed.__dict__)


@pytest.mark.django_db
def test_it_refuses_a_live_access_token_with_a_dead_refresh_token(
    operator_client, sandbox_org, webex_world
):
    access, _ = genuine_pair(webex_world)
    before = org_row(sandbox_org)
    html = operator_client.post(
        paste_url(sandbox_org), form(access, "refresh-token-that-never-was")
    ).content.decode()
    assert 'id="id_refresh_token_error"' in html
    assert "Webex refused this refresh token" in html
    assert 'id="id_access_token_error"' not in html
    assert org_row(sandbox_org) == before
    assert not OrgToken.objects.filter(org=sandbox_org).exists()
    failed = AuditEvent.objects.get(action="org.tokens_fetched")
    assert failed.outcome == "failed" and failed.tracking_id and "refresh_token" in failed.error


@pytest.mark.django_db
def test_it_refuses_tokens_of_an_org_that_never_authorized_the_app(
    onboarding_client, portal_app, webex_world, emulator
):
    """Webex has no read naming a token's org; the authorizationsList tells the two apart."""
    stranger = emulator.create_org("Not Yet Inc")  # has not authorized the app
    org = services.org_onboarding_start(
        app=portal_app, webex_org_id=stranger["id"], name="Not Yet Inc", region="us", actor=SYSTEM
    )
    before = org_row(org)
    access, refresh = genuine_pair(webex_world)  # Globex's pair, pasted for Not Yet Inc
    emulator.clear_requests_log()
    html = onboarding_client.post(paste_url(org), form(access, refresh)).content.decode()
    assert 'id="id_access_token_error"' in html
    assert "it belongs to another org" in html
    assert org_row(org) == before and not OrgToken.objects.filter(org=org).exists()
    assert writes(emulator) == []  # refused before the refresh token was used


@pytest.mark.django_db
def test_it_refuses_tokens_whose_data_sources_are_another_orgs(
    operator_client, portal_app, webex_world, emulator
):
    other = emulator.create_org("Initech")
    emulator.authorize(webex_world.application_id, other["id"])
    other_access, other_refresh = genuine_pair(webex_world, other["id"])
    from webex.types import DataSourceRequest

    WebexClient(api_base=webex_world.api_base).register_datasource(
        access_token=other_access,
        request=DataSourceRequest(
            schema_id=SCHEMA,
            url="https://rx.byods.example.com/initech",
            audience="byods-rx",
            subject="initech",
            nonce="n-1",
            token_lifetime_minutes=60,
        ),
    )
    org = services.org_onboarding_start(
        app=portal_app, webex_org_id=webex_world.org_id, name="Globex", region="us", actor=SYSTEM
    )
    html = operator_client.post(paste_url(org), form(other_access, other_refresh)).content.decode()
    assert "This access token belongs to another org" in html and other["id"] in html
    org.refresh_from_db()
    assert org.status == Status.PENDING and not OrgToken.objects.filter(org=org).exists()


@pytest.mark.django_db
def test_it_refuses_an_expired_or_malformed_pair_before_asking_webex(
    operator_client, sandbox_org, emulator
):
    emulator.clear_requests_log()
    past = (timezone.now() - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    html = operator_client.post(
        paste_url(sandbox_org), form("two words", "same", access_expires_at=past)
    ).content.decode()
    assert 'id="id_access_token_error"' in html and "spaces, line breaks" in html
    assert 'id="id_access_expires_at_error"' in html and "already expired" in html
    html = operator_client.post(paste_url(sandbox_org), form("same", "same")).content.decode()
    assert 'id="id_refresh_token_error"' in html and "must differ" in html
    assert emulator.requests_log() == []
    assert not AuditEvent.objects.filter(action="org.tokens_fetched").exists()


@pytest.mark.django_db
def test_it_says_nothing_was_stored_when_webex_does_not_answer(
    operator_client, sandbox_org, webex_world, emulator
):
    access, refresh = genuine_pair(webex_world)
    emulator.set_faults(
        [{"method": "GET", "pathRegex": "^/v1/dataSources", "kind": "status", "status": 503}]
    )
    before = org_row(sandbox_org)
    emulator.clear_requests_log()
    html = operator_client.post(paste_url(sandbox_org), form(access, refresh)).content.decode()
    assert "Nothing was stored" in html and "trackingId" in html
    assert org_row(sandbox_org) == before and not OrgToken.objects.filter(org=sandbox_org).exists()
    assert writes(emulator) == []


@pytest.mark.django_db
def test_a_genuine_pasted_pair_makes_the_org_ready_for_data_sources(
    operator_client, sandbox_org, webex_world, emulator
):
    access, refresh = genuine_pair(webex_world)
    response = operator_client.post(
        paste_url(sandbox_org),
        form(access, refresh, access_expires_at="2099-01-01T00:00"),
    )
    assert response.status_code == 302
    assert response.url == reverse("tenants:org_detail", args=[sandbox_org.public_id])
    org = CustomerOrg.objects.get(pk=sandbox_org.pk)
    assert org.status == Status.ACTIVE
    # The snapshot is Webex's (all four schemas), not the portal app's one-schema list.
    assert org.authorized_domains == ["byods.example.com"]
    (at_webex,) = emulator.list_service_apps()
    assert len(at_webex["dataSourceSchemaIds"]) == 4
    assert set(org.authorized_schema_ids) == set(at_webex["dataSourceSchemaIds"])
    assert org.authorized_at is not None and org.authorized_by
    token = OrgToken.objects.get(org=org)
    assert token.has_tokens and token.refresh_token == refresh
    assert token.access_expires_at < timezone.now() + dt.timedelta(days=30)  # Webex's, not 2099
    event = AuditEvent.objects.get(action="org.tokens_fetched")
    assert event.outcome == "ok" and event.changes["status"]["after"] == Status.ACTIVE
    assert access not in str(event.__dict__) and refresh not in str(event.__dict__)
    # Registering a data source for it works, through its page.
    response = operator_client.post(
        reverse("datasources:register", args=[org.public_id]),
        {
            "schema_id": "1b2b7077-dbcd-4732-b2f9-296f9168168a",  # only in Webex's snapshot
            "url": "https://rx.byods.example.com/feed",
            "audience": "byods-rx",
            "subject": "globex-voice",
            "token_lifetime_minutes": 60,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    ds = DataSource.objects.get(org=org)
    assert ds.webex_id and response.url == reverse("datasources:detail", args=[ds.public_id])


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_pasting_tokens_by_persona(client_for, sandbox_org, webex_world, emulator, persona):
    client = client_for(persona)
    url = paste_url(sandbox_org)
    access, refresh = genuine_pair(webex_world)
    emulator.clear_requests_log()
    get, post = client.get(url), client.post(url, form(access, refresh))
    org = CustomerOrg.objects.get(pk=sandbox_org.pk)
    if persona == "anonymous":
        assert get.status_code == 302 and "/login/" in get.url
        assert post.status_code == 302 and "/login/" in post.url
    elif persona in ONBOARD:
        assert get.status_code == 200 and post.status_code == 302
        assert org.status == Status.ACTIVE and OrgToken.objects.get(org=org).has_tokens
        return
    else:
        assert get.status_code == 403 and post.status_code == 403
    assert org.status == Status.PENDING and not OrgToken.objects.filter(org=org).exists()
    assert emulator.requests_log() == []  # refused before anything was sent to Webex
