"""The onboarding wizard, step by step, for every persona, against the Webex emulator."""

import datetime as dt

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from audit.vocabulary import Action
from datasources.models import DataSource
from tenants import services
from tenants.models import CustomerOrg

from .conftest import SYSTEM

PERSONAS = ["operator", "onboarding", "auditor", "norole", "anonymous"]
ONBOARD = {"operator", "onboarding"}
SCHEMA = "5397013b-7920-4ffc-807c-e8a3e0a18f43"


def expect(response, persona, ok=(200,)):
    if persona == "anonymous":
        assert response.status_code == 302 and "/login/" in response.url
    elif persona in ONBOARD:
        assert response.status_code in ok, response.status_code
    else:
        assert response.status_code == 403


def pending_org(app, webex_org_id, name="Globex Retail"):
    return services.org_onboarding_start(
        app=app, webex_org_id=webex_org_id, name=name, region="us", actor=SYSTEM
    )


def datasource_post(**overrides):
    return {
        "schema_id": SCHEMA,
        "url": "https://rx.byods.example.com/feed",
        "audience": "byods-rx",
        "subject": "globex-voice",
        "token_lifetime_minutes": 60,
    } | overrides


# ------------------------------------------------------------------------- step 1
@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_step1_by_persona(client_for, portal_app, persona):
    client = client_for(persona)
    expect(client.get(reverse("onboarding:wizard_app")), persona)
    response = client.post(reverse("onboarding:wizard_app"), {"service_app": portal_app.pk})
    expect(response, persona, ok=(302,))
    if persona in ONBOARD:
        assert response.url == reverse("onboarding:wizard_org", args=[portal_app.public_id])


@pytest.mark.django_db
def test_step1_offers_only_usable_apps_and_says_why_not(onboarding_client, portal_app):
    portal_app.integration_token_expires_at = timezone.now() - dt.timedelta(hours=1)
    portal_app.save()
    html = onboarding_client.get(reverse("onboarding:wizard_app")).content.decode()
    assert 'name="service_app"' not in html
    assert "No Service App can onboard an org right now" in html
    assert "its partner integration token has expired" in html
    response = onboarding_client.post(
        reverse("onboarding:wizard_app"), {"service_app": portal_app.pk}
    )
    assert response.status_code == 200
    step2 = onboarding_client.get(reverse("onboarding:wizard_org", args=[portal_app.public_id]))
    assert step2.status_code == 302 and step2.url == reverse("onboarding:wizard_app")


@pytest.mark.django_db
def test_step1_requires_a_choice_and_says_so_beside_it(onboarding_client, portal_app):
    html = onboarding_client.post(reverse("onboarding:wizard_app"), {}).content.decode()
    assert "Choose the Service App the org&#x27;s admin authorized." in html
    assert 'id="id_service_app_error"' in html
    assert 'aria-current="step"' in html


# ------------------------------------------------------------------------- step 2
@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_step2_records_the_org_as_pending(client_for, portal_app, webex_world, persona):
    client = client_for(persona)
    url = reverse("onboarding:wizard_org", args=[portal_app.public_id])
    expect(client.get(url), persona)
    response = client.post(
        url, {"webex_org_id": webex_world.org_webex_id, "name": "Globex Retail", "region": "us"}
    )
    expect(response, persona, ok=(302,))
    org = CustomerOrg.objects.filter(name="Globex Retail").first()
    assert (org is not None) == (persona in ONBOARD)
    if org is not None:
        assert org.status == CustomerOrg.Status.PENDING
        assert not hasattr(org, "token") or not org.token.has_tokens
        assert response.url == reverse("onboarding:wizard_tokens", args=[org.public_id])
        assert AuditEvent.objects.filter(
            action=Action.ORG_ONBOARDING_STARTED, target_id=str(org.public_id)
        ).exists()


@pytest.mark.django_db
def test_step2_errors_sit_beside_their_fields(onboarding_client, portal_app):
    html = onboarding_client.post(
        reverse("onboarding:wizard_org", args=[portal_app.public_id]),
        {"webex_org_id": "nonsense", "name": "", "region": "us"},
    ).content.decode()
    assert "Enter the org&#x27;s Webex id" in html and "This field is required." in html
    assert html.count('aria-invalid="true"') >= 2
    assert not CustomerOrg.objects.exists()


@pytest.mark.django_db
def test_step2_refuses_an_org_already_onboarded(onboarding_client, portal_app, webex_world):
    services.org_onboard(
        app=portal_app, webex_org_id=webex_world.org_id, name="Globex", region="us", actor=SYSTEM
    )
    html = onboarding_client.post(
        reverse("onboarding:wizard_org", args=[portal_app.public_id]),
        {"webex_org_id": webex_world.org_id, "name": "Globex again", "region": "us"},
    ).content.decode()
    assert "already onboarded as “Globex” (Active)" in html
    assert CustomerOrg.objects.count() == 1


@pytest.mark.django_db
def test_step2_again_for_a_pending_org_updates_it(portal_app, webex_world):
    first = pending_org(portal_app, webex_world.org_id, name="Globex")
    again = pending_org(portal_app, webex_world.org_id, name="Globex Retail")
    assert again.pk == first.pk and again.name == "Globex Retail"
    assert CustomerOrg.objects.count() == 1


# ------------------------------------------------------------------------- step 3
@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_step3_fetches_tokens(client_for, portal_app, webex_world, persona):
    org = pending_org(portal_app, webex_world.org_id)
    client = client_for(persona)
    url = reverse("onboarding:wizard_tokens", args=[org.public_id])
    expect(client.get(url), persona)
    response = client.post(url)
    expect(response, persona, ok=(302,))
    org.refresh_from_db()
    if persona in ONBOARD:
        assert org.status == CustomerOrg.Status.ACTIVE and org.token.has_tokens
        assert org.authorized_schema_ids  # the snapshot was taken
        assert response.url == reverse("onboarding:wizard_datasource", args=[org.public_id])
    else:
        assert org.status == CustomerOrg.Status.PENDING


@pytest.mark.django_db
def test_step3_shows_the_refusal_and_a_retry_works(onboarding_client, portal_app, webex_world):
    emulator = webex_world.control
    stranger = emulator.create_org("Not Yet Inc")
    org = pending_org(portal_app, stranger["id"], name="Not Yet Inc")
    url = reverse("onboarding:wizard_tokens", args=[org.public_id])
    html = onboarding_client.post(url).content.decode()
    assert "Webex refused to issue tokens" in html
    assert "has not authorized the Service App" in html and "trackingId" in html
    assert "Try again" in html
    org.refresh_from_db()
    assert org.status == CustomerOrg.Status.PENDING
    assert AuditEvent.objects.filter(action=Action.ORG_ONBOARDED, outcome="failed").exists()
    # The admin authorizes the app; the same button now succeeds.
    emulator.authorize(webex_world.application_id, stranger["id"])
    response = onboarding_client.post(url)
    assert response.status_code == 302
    org.refresh_from_db()
    assert org.status == CustomerOrg.Status.ACTIVE


@pytest.mark.django_db
def test_step3_for_an_active_org_moves_on(onboarding_client, portal_app, webex_world):
    org = services.org_onboard(
        app=portal_app, webex_org_id=webex_world.org_id, name="Globex", region="us", actor=SYSTEM
    )
    response = onboarding_client.post(reverse("onboarding:wizard_tokens", args=[org.public_id]))
    assert response.url == reverse("onboarding:wizard_datasource", args=[org.public_id])


# ------------------------------------------------------------------------- step 4
@pytest.fixture
def active_org(portal_app, webex_world):
    org = pending_org(portal_app, webex_world.org_id)
    return services.org_onboarding_tokens_fetch(org=org, actor=SYSTEM)


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_step4_registers_the_first_data_source(client_for, active_org, persona):
    client = client_for(persona)
    url = reverse("onboarding:wizard_datasource", args=[active_org.public_id])
    expect(client.get(url), persona)
    response = client.post(url, datasource_post())
    expect(response, persona, ok=(302,))
    assert DataSource.objects.filter(org=active_org).exists() == (persona in ONBOARD)
    if persona in ONBOARD:
        assert response.url == reverse("onboarding:wizard_finish", args=[active_org.public_id])


@pytest.mark.django_db
def test_step4_offers_only_authorized_schemas_and_names_the_domains(onboarding_client, active_org):
    html = onboarding_client.get(
        reverse("onboarding:wizard_datasource", args=[active_org.public_id])
    ).content.decode()
    assert '<select name="schema_id"' in html
    for schema in active_org.authorized_schema_ids:
        assert f'value="{schema}"' in html
    assert html.count("<option") == len(active_org.authorized_schema_ids) + 1  # + "Choose…"
    assert "byods.example.com" in html  # the allowed domains, as help text


@pytest.mark.django_db
def test_step4_rejects_a_url_outside_the_domains_beside_the_field(onboarding_client, active_org):
    html = onboarding_client.post(
        reverse("onboarding:wizard_datasource", args=[active_org.public_id]),
        datasource_post(url="https://evil.example.net/feed"),
    ).content.decode()
    assert "is not one of this org&#x27;s authorized domains" in html
    assert 'id="id_url_error"' in html and 'aria-describedby="id_url_helptext id_url_error"' in html
    assert not DataSource.objects.exists()


@pytest.mark.django_db
def test_step4_waits_for_tokens(onboarding_client, portal_app, webex_world):
    org = pending_org(portal_app, webex_world.org_id)
    response = onboarding_client.get(reverse("onboarding:wizard_datasource", args=[org.public_id]))
    assert response.url == reverse("onboarding:wizard_resume", args=[org.public_id])


# ------------------------------------------------------------------------- step 5, resume
@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_step5_lands_on_the_org_page_with_a_message(client_for, active_org, persona):
    client = client_for(persona)
    response = client.get(reverse("onboarding:wizard_finish", args=[active_org.public_id]))
    expect(response, persona, ok=(302,))
    if persona in ONBOARD:
        assert response.url == reverse("tenants:org_detail", args=[active_org.public_id])
        text = [str(m) for m in get_messages(response.wsgi_request)]
        assert any("Onboarding complete: Globex Retail is active" in t for t in text)


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_a_half_finished_wizard_resumes_from_the_org_page(
    client_for, portal_app, webex_world, persona
):
    org = pending_org(portal_app, webex_world.org_id)
    client = client_for(persona)
    detail = client.get(reverse("tenants:org_detail", args=[org.public_id]))
    resume = reverse("onboarding:wizard_resume", args=[org.public_id])
    if persona in ONBOARD:
        assert resume in detail.content.decode()
    elif persona == "auditor":
        assert resume not in detail.content.decode()
    response = client.get(resume)
    expect(response, persona, ok=(302,))
    if persona in ONBOARD:
        assert response.url == reverse("onboarding:wizard_tokens", args=[org.public_id])


@pytest.mark.django_db
def test_resume_after_tokens_goes_to_the_data_source_step(onboarding_client, active_org):
    response = onboarding_client.get(
        reverse("onboarding:wizard_resume", args=[active_org.public_id])
    )
    assert response.url == reverse("onboarding:wizard_datasource", args=[active_org.public_id])


@pytest.mark.django_db
def test_the_wizard_end_to_end(onboarding_client, portal_app, webex_world):
    c = onboarding_client
    r = c.post(reverse("onboarding:wizard_app"), {"service_app": portal_app.pk}, follow=True)
    assert "Onboard an org with Acme Analytics" in r.content.decode()
    r = c.post(
        reverse("onboarding:wizard_org", args=[portal_app.public_id]),
        {"webex_org_id": webex_world.org_id, "name": "Globex Retail", "region": "us"},
        follow=True,
    )
    org = CustomerOrg.objects.get()
    r = c.post(reverse("onboarding:wizard_tokens", args=[org.public_id]), follow=True)
    assert "Register the first data source of Globex Retail" in r.content.decode()
    r = c.post(
        reverse("onboarding:wizard_datasource", args=[org.public_id]),
        datasource_post(),
        follow=True,
    )
    html = r.content.decode()
    assert r.redirect_chain[-1][0] == reverse("tenants:org_detail", args=[org.public_id])
    assert "Onboarding complete: Globex Retail is active with 1 data source." in html
    assert "access_token" not in html and webex_world.client_secret not in html


@pytest.mark.django_db
def test_a_failed_form_says_nothing_was_saved(onboarding_client, portal_app):
    html = onboarding_client.post(
        reverse("onboarding:wizard_org", args=[portal_app.public_id]),
        {"webex_org_id": "nonsense", "name": "", "region": "us"},
    ).content.decode()
    assert "Nothing was saved: correct the fields marked below." in html


@pytest.mark.django_db
def test_resuming_an_offboarding_that_is_not_running_says_so(operator_client, active_org):
    response = operator_client.post(
        reverse("offboarding:org_offboard_resume", args=[active_org.public_id])
    )
    text = [str(m) for m in get_messages(response.wsgi_request)]
    assert text == ["Globex Retail is not being offboarded: nothing to resume."]
