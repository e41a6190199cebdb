"""Every tenants page and action, for every persona: allowed and refused."""

import pytest
from django.urls import reverse

from tenants import services
from tenants.models import CustomerOrg, OrgToken, ServiceApp

from .conftest import SYSTEM

PERSONAS = ["operator", "onboarding", "auditor", "norole", "anonymous"]
READ = {"operator", "onboarding", "auditor"}
ONBOARD = {"operator", "onboarding"}
OPERATE = {"operator"}


@pytest.fixture
def org(portal_app, webex_world):
    return services.org_onboard(
        app=portal_app,
        webex_org_id=webex_world.org_id,
        name="Globex Retail",
        region="us",
        actor=SYSTEM,
    )


def expect(response, persona, allowed, ok=(200,)):
    if persona == "anonymous":
        assert response.status_code == 302 and "/login/" in response.url
    elif persona in allowed:
        assert response.status_code in ok, response.status_code
    else:
        assert response.status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_read_pages(client_for, org, persona):
    client = client_for(persona)
    for url in [
        reverse("tenants:org_list"),
        reverse("tenants:org_detail", args=[org.public_id]),
        reverse("tenants:serviceapp_list"),
        reverse("tenants:serviceapp_detail", args=[org.service_app.public_id]),
        reverse("offboarding:org_offboard_progress", args=[org.public_id]),
    ]:
        expect(client.get(url), persona, READ)


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_onboarding_form_by_persona(client_for, portal_app, webex_world, persona):
    client = client_for(persona)
    expect(client.get(reverse("tenants:org_onboard")), persona, ONBOARD)
    response = client.post(
        reverse("tenants:org_onboard"),
        {
            "service_app": portal_app.pk,
            "webex_org_id": webex_world.org_webex_id,
            "name": "Globex Retail",
            "region": "us",
        },
    )
    expect(response, persona, ONBOARD, ok=(302,))
    assert CustomerOrg.objects.filter(name="Globex Retail").exists() == (persona in ONBOARD)


@pytest.mark.django_db
def test_onboarding_refused_by_webex_shows_the_reason(onboarding_client, portal_app, emulator):
    stranger = emulator.create_org("Not Yet Inc")
    html = onboarding_client.post(
        reverse("tenants:org_onboard"),
        {
            "service_app": portal_app.pk,
            "webex_org_id": stranger["id"],
            "name": "Not Yet Inc",
            "region": "us",
        },
    ).content.decode()
    assert "has not authorized the Service App" in html and "trackingId" in html
    assert not CustomerOrg.objects.exists()


@pytest.mark.django_db
def test_onboarding_errors_sit_beside_their_fields(onboarding_client, portal_app):
    html = onboarding_client.post(
        reverse("tenants:org_onboard"),
        {
            "service_app": portal_app.pk,
            "webex_org_id": "nonsense",
            "name": "",
            "region": "us",
        },
    ).content.decode()
    assert "This field is required." in html
    assert "Enter the org&#x27;s Webex id" in html
    assert html.count("is-invalid") >= 2


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_refresh_now_by_persona(client_for, org, persona):
    response = client_for(persona).post(reverse("tenants:org_refresh", args=[org.public_id]))
    expect(response, persona, ONBOARD, ok=(302,))
    refreshed = OrgToken.objects.get(org=org).last_refreshed_at is not None
    assert refreshed == (persona in ONBOARD)


@pytest.mark.django_db
def test_refresh_now_pressed_twice_calls_webex_once_and_says_so(
    operator_client, org, emulator, settings
):
    """The button is single-flight too: the second press (the first's page, or a colleague's)
    finds the token just refreshed and says when, without a second call to Webex."""
    settings.SINGLE_FLIGHT_SECONDS = 10
    emulator.clear_requests_log()
    url = reverse("tenants:org_refresh", args=[org.public_id])
    first = operator_client.post(url, follow=True).content.decode()
    second = operator_client.post(url, follow=True).content.decode()
    assert f"Refreshed the access token of {org.name}." in first
    assert "Not refreshed again" in second and "refreshed by a concurrent request at" in second
    assert len(emulator.requests_log(path="/v1/access_token")) == 1
    assert OrgToken.objects.get(org=org).version == 2


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_offboarding_is_for_operators_only(client_for, org, persona, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    client = client_for(persona)
    url = reverse("offboarding:org_offboard", args=[org.public_id])
    expect(client.get(url), persona, OPERATE)
    response = client.post(
        url, {"confirm_name": "Globex Retail", "mode": "disable", "reason": "Contract ended"}
    )
    expect(response, persona, OPERATE, ok=(302,))
    org.refresh_from_db()
    assert (org.status == CustomerOrg.Status.OFFBOARDING) == (persona in OPERATE)


@pytest.mark.django_db
def test_offboarding_needs_the_typed_name(operator_client, org):
    html = operator_client.post(
        reverse("offboarding:org_offboard", args=[org.public_id]),
        {"confirm_name": "Globex", "mode": "disable", "reason": "Contract ended"},
    ).content.decode()
    assert "Type the org&#x27;s name exactly: Globex Retail" in html
    org.refresh_from_db()
    assert org.status == CustomerOrg.Status.ACTIVE


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_adding_a_service_app_is_for_operators(client_for, persona):
    client = client_for(persona)
    expect(client.get(reverse("tenants:serviceapp_create")), persona, OPERATE)
    response = client.post(
        reverse("tenants:serviceapp_create"),
        {
            "name": "Voice VA",
            "client_id": "C-new",
            "client_secret": "s3cr3t",
            "region": "us",
            "valid_domains": "voice.example.com",
            "integration_token": "tok",
            "schema_ids": "5397013b-7920-4ffc-807c-e8a3e0a18f43",
        },
    )
    expect(response, persona, OPERATE, ok=(302,))
    assert ServiceApp.objects.filter(client_id="C-new").exists() == (persona in OPERATE)


@pytest.mark.django_db
def test_service_app_form_rejects_wildcards_and_bad_schemas(operator_client):
    html = operator_client.post(
        reverse("tenants:serviceapp_create"),
        {
            "name": "X",
            "client_id": "C-x",
            "client_secret": "s",
            "region": "us",
            "valid_domains": "*.example.com",
            "integration_token": "t",
            "schema_ids": "nope",
        },
    ).content.decode()
    assert "Not a domain name: *.example.com" in html
    assert "Each schema id must be a UUID." in html


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_reconcile_button_by_persona(client_for, portal_app, persona):
    url = reverse("tenants:serviceapp_reconcile", args=[portal_app.public_id])
    expect(client_for(persona).post(url), persona, ONBOARD, ok=(302,))


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_register_webhooks_button_by_persona(client_for, portal_app, persona, emulator):
    url = reverse("tenants:serviceapp_register_webhooks", args=[portal_app.public_id])
    expect(client_for(persona).post(url), persona, OPERATE, ok=(302,))
    portal_app.refresh_from_db()
    assert (len(portal_app.webhook_ids) == 2) == (persona in OPERATE)


@pytest.mark.django_db
def test_no_page_shows_a_secret(operator_client, org, webex_world):
    token = OrgToken.objects.get(org=org)
    secrets = [
        token.access_token,
        token.refresh_token,
        org.service_app.client_secret,
        org.service_app.integration_token,
        org.service_app.webhook_secret,
    ]
    for url in [
        reverse("tenants:org_list"),
        reverse("tenants:org_detail", args=[org.public_id]),
        reverse("tenants:serviceapp_list"),
        reverse("tenants:serviceapp_detail", args=[org.service_app.public_id]),
        reverse("audit:log"),
        reverse("audit:export"),
        f"/admin/tenants/orgtoken/{token.pk}/change/",
        "/admin/tenants/orgtoken/",
        "/admin/tenants/serviceapp/",
        f"/admin/tenants/serviceapp/{org.service_app.pk}/change/",
        "/admin/audit/auditevent/",
    ]:
        response = operator_client.get(url)
        assert response.status_code == 200, url
        body = b"".join(response.streaming_content) if response.streaming else response.content
        for secret in secrets:
            assert secret.encode() not in body, url


@pytest.mark.django_db
def test_the_dashboard_alerts_on_an_org_that_must_reauthorize(client_for, org, emulator):
    viewer = client_for("auditor")
    CustomerOrg.objects.filter(pk=org.pk).update(owner=viewer.user)
    emulator.advance_clock(91 * 86400)
    services.org_tokens_refresh(org_id=org.pk, force=True, actor=SYSTEM)
    html = viewer.get(reverse("dashboard")).content.decode()
    assert "Globex Retail" in html and "must reauthorize" in html
    assert "Owner: auditor@example.com" in html


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_resuming_an_offboarding_is_for_operators_only(
    client_for, org, persona, django_capture_on_commit_callbacks
):
    from byods_portal.celery import app as celery_app

    org = services.org_offboard_start(
        org=org,
        confirm_name="Globex Retail",
        mode="delete",
        reason="Contract ended",
        actor=SYSTEM,
    )
    celery_app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = client_for(persona).post(
                reverse("offboarding:org_offboard_resume", args=[org.public_id])
            )
    finally:
        celery_app.conf.task_always_eager = False
    expect(response, persona, OPERATE, ok=(302,))
    org.refresh_from_db()
    assert (org.status == CustomerOrg.Status.OFFBOARDED) == (persona in OPERATE)


@pytest.mark.django_db
def test_the_service_refuses_a_service_app_the_form_would_refuse(portal_app):
    """The Service App's rules live in the service: an API or script gets the same answer as
    the page, and nothing is stored."""
    from django.core.exceptions import ValidationError

    from tenants.models import ServiceApp
    from tenants.services import serviceapp_create

    count = ServiceApp.objects.count()
    with pytest.raises(ValidationError) as err:
        serviceapp_create(
            name="Bad",
            client_id="C-bad",
            client_secret="s",
            valid_domains=["*.example.com"],
            schema_ids=["not-a-uuid"],
            region="us",
            integration_token="t",
            actor=SYSTEM,
        )
    assert set(err.value.message_dict) == {"valid_domains"}
    with pytest.raises(ValidationError) as err:
        serviceapp_create(
            name="Bad",
            client_id=portal_app.client_id,
            client_secret="s",
            valid_domains=["ok.example.com"],
            schema_ids=["5397013b-7920-4ffc-807c-e8a3e0a18f43"],
            region="us",
            integration_token="t",
            actor=SYSTEM,
        )
    assert set(err.value.message_dict) == {"client_id"}
    assert ServiceApp.objects.count() == count
