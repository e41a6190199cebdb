"""Every data source page and action, for every persona: allowed and refused."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from datasources import selectors, services
from datasources.models import DataSource
from tenants.models import CustomerOrg, OrgToken

from .conftest import SCHEMA, SYSTEM

PERSONAS = ["operator", "onboarding", "auditor", "norole", "anonymous"]
READ = {"operator", "onboarding", "auditor"}
EDIT = {"operator", "onboarding"}
OPERATE = {"operator"}


def expect(response, persona, allowed, ok=(200,)):
    if persona == "anonymous":
        assert response.status_code == 302 and response.url.startswith("/login/")
    elif persona in allowed:
        assert response.status_code in ok, response.status_code
    else:
        assert response.status_code == 403, response.status_code


def remote(emulator, ds):
    return next(d for d in emulator.state()["dataSources"] if d["id"] == ds.webex_id)


def puts(emulator):
    return emulator.requests_log(method="PUT")


def form_data(**overrides):
    return {
        "schema_id": SCHEMA,
        "url": "https://rx.byods.example.com/feed",
        "audience": "byods-rx",
        "subject": "globex-voice",
        "token_lifetime_minutes": "60",
    } | overrides


@pytest.fixture
def ds(register):
    return register()


# ------------------------------------------------------------------------- reads
@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_read_pages(client_for, ds, persona):
    client = client_for(persona)
    for url in [
        reverse("datasources:list"),
        reverse("datasources:list") + f"?org={ds.org.public_id}&status=active&health=healthy",
        reverse("datasources:list") + "?q=globex&sort=-token_expires_at&page=2",
        reverse("datasources:detail", args=[ds.public_id]),
    ]:
        response = client.get(url)
        expect(response, persona, READ)
        if persona in READ:
            assert ds.url in response.content.decode(), url


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["operator", "onboarding", "auditor"])
def test_actions_shown_match_permissions(client_for, ds, persona):
    client = client_for(persona)
    html = client.get(reverse("datasources:detail", args=[ds.public_id]))
    html = html.content.decode()
    assert (reverse("datasources:rotate", args=[ds.public_id]) in html) == (persona in EDIT)
    assert (reverse("datasources:edit", args=[ds.public_id]) in html) == (persona in EDIT)
    assert (reverse("datasources:disable", args=[ds.public_id]) in html) == (persona in OPERATE)
    assert (reverse("datasources:delete", args=[ds.public_id]) in html) == (persona in OPERATE)
    timeline = reverse("audit:datasource_timeline", args=[ds.public_id])
    assert (timeline in html) == (persona in {"operator", "auditor"})
    listing = client.get(reverse("datasources:list")).content.decode()
    assert (reverse("operations:preview") in listing) == (persona in EDIT)  # the bulk form
    org_page = client.get(reverse("tenants:org_detail", args=[ds.org.public_id]))
    org_html = org_page.content.decode()
    assert f"{reverse('datasources:list')}?org={ds.org.public_id}" in org_html
    register_url = reverse("datasources:register", args=[ds.org.public_id])
    assert (register_url in org_html) == (persona in EDIT)
    assert "Data sources" in org_html  # the navigation item and the org's section


@pytest.mark.django_db
def test_detail_shows_history_but_no_full_nonce(operator_client, ds):
    html = operator_client.get(reverse("datasources:detail", args=[ds.public_id])).content.decode()
    assert ds.nonce[:8] + "…" in html and ds.nonce not in html
    assert "register" in html and "Accepted" in html


@pytest.mark.django_db
def test_a_deleted_data_source_is_gone_from_pages(operator_client, ds):
    services.datasource_delete(ds=ds, reason="Customer asked", actor=SYSTEM)
    assert (
        operator_client.get(reverse("datasources:detail", args=[ds.public_id])).status_code == 404
    )
    html = operator_client.get(reverse("datasources:list")).content.decode()
    assert ds.url not in html and "No data sources yet" in html


@pytest.mark.django_db
def test_empty_list_says_what_to_do(client_for, org):
    onboarding = client_for("onboarding")
    html = onboarding.get(reverse("datasources:list")).content.decode()
    assert "No data sources yet" in html and "register one" in html
    html = onboarding.get(reverse("datasources:list") + f"?org={org.public_id}")
    assert reverse("datasources:register", args=[org.public_id]) in html.content.decode()
    html = client_for("auditor").get(reverse("datasources:list") + "?q=nothing-like-this")
    assert "No data source matches these filters" in html.content.decode()


# ------------------------------------------------------------------------- register / edit
@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_register_by_persona(client_for, org, emulator, persona):
    client = client_for(persona)
    url = reverse("datasources:register", args=[org.public_id])
    expect(client.get(url), persona, EDIT)
    response = client.post(url, form_data())
    expect(response, persona, EDIT, ok=(302,))
    registered = DataSource.objects.filter(org=org).first()
    assert (registered is not None) == (persona in EDIT)
    assert len(emulator.state()["dataSources"]) == (1 if persona in EDIT else 0)
    if registered:
        assert response.url == reverse("datasources:detail", args=[registered.public_id])


@pytest.mark.django_db
def test_register_form_limits_schemas_and_lists_domains(onboarding_client, org):
    html = onboarding_client.get(
        reverse("datasources:register", args=[org.public_id])
    ).content.decode()
    assert f'<option value="{SCHEMA}"' in html
    assert "1 to 1440" in html and 'value="60"' in html
    for domain in org.authorized_domains:
        assert domain in html
    response = onboarding_client.post(
        reverse("datasources:register", args=[org.public_id]),
        form_data(schema_id="00000000-0000-4000-8000-000000000000"),
    )
    assert response.status_code == 200 and not DataSource.objects.exists()
    assert "Select a valid choice" in response.content.decode()


@pytest.mark.django_db
def test_register_errors_sit_beside_their_fields(onboarding_client, org, emulator):
    html = onboarding_client.post(
        reverse("datasources:register", args=[org.public_id]),
        form_data(url="https://byods.example.com.evil.io/x", token_lifetime_minutes="0"),
    ).content.decode()
    assert "is not one of this org&#x27;s authorized domains" in html
    assert "The token lifetime must be from 1 to 1440 minutes" in html
    assert html.count("is-invalid") >= 2
    assert emulator.requests_log(method="POST", path="/v1/dataSources") == []
    assert not DataSource.objects.exists()


@pytest.mark.django_db
def test_register_shows_webex_refusal(onboarding_client, org, emulator):
    emulator.set_faults(
        [{"method": "POST", "pathRegex": "/v1/dataSources", "kind": "status", "status": 400}]
    )
    response = onboarding_client.post(
        reverse("datasources:register", args=[org.public_id]), form_data()
    )
    assert response.status_code == 200 and not DataSource.objects.exists()
    assert "alert-danger" in response.content.decode()


@pytest.mark.django_db
def test_register_refused_for_an_inactive_org(onboarding_client, org, emulator):
    CustomerOrg.objects.filter(pk=org.pk).update(status=CustomerOrg.Status.DEAUTHORIZED)
    url = reverse("datasources:register", args=[org.public_id])
    for response in (onboarding_client.get(url), onboarding_client.post(url, form_data())):
        assert response.status_code == 302
        assert response.url == reverse("tenants:org_detail", args=[org.public_id])
    follow = onboarding_client.get(url, follow=True).content.decode()
    assert "only for active orgs" in follow
    assert "Register a data source" not in follow  # no button for an inactive org
    assert emulator.state()["dataSources"] == [] and not DataSource.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_edit_by_persona(client_for, ds, emulator, persona):
    client = client_for(persona)
    url = reverse("datasources:edit", args=[ds.public_id])
    expect(client.get(url), persona, EDIT)
    response = client.post(url, form_data(audience="byods-rx-2"))
    expect(response, persona, EDIT, ok=(302,))
    ds.refresh_from_db()
    assert (ds.audience == "byods-rx-2") == (persona in EDIT)
    assert (remote(emulator, ds)["audience"] == "byods-rx-2") == (persona in EDIT)


@pytest.mark.django_db
def test_edit_form_is_prefilled_and_checks_the_rules(onboarding_client, ds, emulator):
    url = reverse("datasources:edit", args=[ds.public_id])
    assert 'value="byods-rx"' in onboarding_client.get(url).content.decode()
    emulator.clear_requests_log()
    html = onboarding_client.post(url, form_data(url="http://rx.byods.example.com/x"))
    assert "must start with https://" in html.content.decode()
    assert puts(emulator) == []


@pytest.mark.django_db
def test_saving_the_edit_form_unchanged_sends_nothing_and_says_so(onboarding_client, ds, emulator):
    emulator.clear_requests_log()
    url = reverse("datasources:edit", args=[ds.public_id])
    page = onboarding_client.post(url, form_data(), follow=True).content.decode()
    assert "Nothing changed in" in page and "nothing was sent to Webex" in page
    assert "Saved" not in page
    assert puts(emulator) == []


# ------------------------------------------------------------------------- status
@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_disable_by_persona(client_for, ds, emulator, persona):
    client = client_for(persona)
    url = reverse("datasources:disable", args=[ds.public_id])
    expect(client.get(url), persona, OPERATE)
    response = client.post(url, {"message": "Planned upgrade until 14:00 UTC"})
    expect(response, persona, OPERATE, ok=(302,))
    ds.refresh_from_db()
    assert (ds.status == "disabled") == (persona in OPERATE)
    assert (remote(emulator, ds)["status"] == "disabled") == (persona in OPERATE)


@pytest.mark.django_db
def test_disable_needs_a_message_beside_its_field(operator_client, ds, emulator):
    url = reverse("datasources:disable", args=[ds.public_id])
    assert "Shown to the customer&#x27;s admin in Control Hub." in (
        operator_client.get(url).content.decode()
    )
    emulator.clear_requests_log()
    html = operator_client.post(url, {"message": "  "}).content.decode()
    assert "Enter the message the customer&#x27;s admin will see." in html
    assert 'name="message"' in html and "is-invalid" in html
    assert puts(emulator) == [] and remote(emulator, ds)["status"] == "active"


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_enable_by_persona(client_for, ds, emulator, persona):
    ds = services.datasource_disable(ds=ds, message="Paused by ops", actor=SYSTEM)
    response = client_for(persona).post(reverse("datasources:enable", args=[ds.public_id]))
    expect(response, persona, OPERATE, ok=(302,))
    ds.refresh_from_db()
    assert (ds.status == "active") == (persona in OPERATE)
    assert (remote(emulator, ds)["status"] == "active") == (persona in OPERATE)


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_delete_by_persona(client_for, ds, emulator, persona):
    client = client_for(persona)
    url = reverse("datasources:delete", args=[ds.public_id])
    expect(client.get(url), persona, OPERATE)
    response = client.post(url, {"reason": "Customer asked", "understood": "on"})
    expect(response, persona, OPERATE, ok=(302,))
    ds.refresh_from_db()
    assert (ds.deleted_at is not None) == (persona in OPERATE)
    assert (emulator.state()["dataSources"] == []) == (persona in OPERATE)
    if persona in OPERATE:
        assert response.url == reverse("tenants:org_detail", args=[ds.org.public_id])


@pytest.mark.django_db
def test_delete_needs_the_checkbox_and_a_reason(operator_client, ds, emulator):
    url = reverse("datasources:delete", args=[ds.public_id])
    html = operator_client.get(url).content.decode()
    assert "data stops flowing" in html and "I understand" in html
    html = operator_client.post(url, {"reason": "Customer asked"}).content.decode()
    assert "Tick this box to confirm the deletion." in html
    html = operator_client.post(url, {"reason": "no", "understood": "on"}).content.decode()
    assert "Give a reason (at least 5 characters)." in html and "is-invalid" in html
    ds.refresh_from_db()
    assert ds.deleted_at is None and len(emulator.state()["dataSources"]) == 1


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_maintenance_by_persona(client_for, ds, persona):
    client = client_for(persona)
    url = reverse("datasources:maintenance", args=[ds.public_id])
    expect(client.get(url), persona, OPERATE)
    start = (timezone.now() + dt.timedelta(days=1)).replace(second=0, microsecond=0)
    response = client.post(
        url,
        {
            "disable_at": start.strftime("%Y-%m-%dT%H:%M"),
            "enable_at": (start + dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
            "message": "Planned upgrade",
        },
    )
    expect(response, persona, OPERATE, ok=(302,))
    ds.refresh_from_db()
    assert (ds.maintenance_disable_at == start) == (persona in OPERATE)
    if persona in OPERATE:
        html = client.get(reverse("datasources:detail", args=[ds.public_id])).content.decode()
        assert "Maintenance window" in html and "Planned upgrade" in html


@pytest.mark.django_db
def test_maintenance_errors_sit_beside_their_fields(operator_client, ds):
    html = operator_client.post(
        reverse("datasources:maintenance", args=[ds.public_id]),
        {"disable_at": "2001-01-01T10:00", "enable_at": "2001-01-01T09:00", "message": "x"},
    ).content.decode()
    assert "The start of the maintenance window is in the past." in html
    assert "The end must come after the start." in html
    assert "(UTC)" in html
    ds.refresh_from_db()
    assert ds.maintenance_disable_at is None


# ------------------------------------------------------------------------- rotation
@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_rotate_by_persona(client_for, ds, emulator, persona):
    emulator.clear_requests_log()
    client = client_for(persona)
    response = client.post(reverse("datasources:rotate", args=[ds.public_id]))
    expect(response, persona, EDIT, ok=(302,))
    old_nonce = ds.nonce
    ds.refresh_from_db()
    assert (ds.nonce != old_nonce) == (persona in EDIT)
    assert len(puts(emulator)) == (1 if persona in EDIT else 0)
    if persona in EDIT:
        assert remote(emulator, ds)["nonce"] == ds.nonce
        html = client.get(response.url).content.decode()
        assert "Rotated the JWS of" in html


@pytest.mark.django_db
def test_rotate_reports_a_failure(onboarding_client, ds, emulator):
    emulator.set_faults(
        [{"method": "PUT", "pathRegex": "/v1/dataSources/", "kind": "status", "status": 503}]
    )
    response = onboarding_client.post(
        reverse("datasources:rotate", args=[ds.public_id]), follow=True
    )
    assert "Rotation failed:" in response.content.decode()
    ds.refresh_from_db()
    assert ds.consecutive_failures == 1


# ------------------------------------------------------------------------- health filter
@pytest.mark.django_db
def test_health_filter_matches_the_model(register, org, operator_client):
    now = timezone.now()
    names = ["healthy", "due", "at_risk", "failing", "disabled", "expired", "missing"]
    made = {
        name: register(url=f"https://{name.replace('_', '-')}.byods.example.com/x")
        for name in names
    }
    services.datasource_disable(ds=made["disabled"], message="Off for now", actor=SYSTEM)
    update = DataSource.objects.filter
    update(pk=made["due"].pk).update(next_rotation_at=now - dt.timedelta(seconds=5))
    update(pk=made["failing"].pk).update(consecutive_failures=2)
    update(pk=made["at_risk"].pk).update(token_expires_at=now + dt.timedelta(minutes=10))
    update(pk=made["expired"].pk).update(token_expires_at=now - dt.timedelta(minutes=1))
    update(pk=made["missing"].pk).update(missing_at_webex_since=now)

    def check():
        for value, _ in selectors.HEALTH:
            rows = list(selectors.datasource_list(health=value))
            assert all(ds.health() == value for ds in rows), value
            expected = [
                ds for ds in DataSource.objects.select_related("org") if ds.health() == value
            ]
            assert {ds.pk for ds in rows} == {ds.pk for ds in expected}, value

    check()
    for name in names:
        assert [ds.pk for ds in selectors.datasource_list(health=name)] == [made[name].pk]
    counts = selectors.datasource_health_counts()
    assert counts == {value: int(value in names) for value, _ in selectors.HEALTH}

    html = operator_client.get(reverse("datasources:list") + "?health=failing").content.decode()
    assert made["failing"].url in html and made["healthy"].url not in html
    assert made["due"].url not in html and made["disabled"].url not in html

    CustomerOrg.objects.filter(pk=org.pk).update(status=CustomerOrg.Status.DEAUTHORIZED)
    check()
    paused = {ds.pk for ds in selectors.datasource_list(health="paused")}
    assert paused == {made[n].pk for n in ("healthy", "due", "at_risk", "failing", "expired")}


@pytest.mark.django_db
def test_list_filters_search_and_sort(operator_client, register):
    first = register(url="https://alpha.byods.example.com/x", audience="aud-alpha")
    second = register(url="https://beta.byods.example.com/x")
    services.datasource_disable(ds=second, message="Off", actor=SYSTEM)
    listing = reverse("datasources:list")
    html = operator_client.get(listing + "?q=aud-alpha").content.decode()
    assert first.url in html and second.url not in html
    html = operator_client.get(listing + "?status=disabled").content.decode()
    assert second.url in html and first.url not in html
    html = operator_client.get(listing + "?sort=-url").content.decode()
    assert html.index(second.url) < html.index(first.url)
    html = operator_client.get(listing + f"?org={first.org.public_id}").content.decode()
    assert first.url in html and second.url in html
    html = operator_client.get(listing + "?org=00000000-0000-0000-0000-000000000000")
    assert first.url not in html.content.decode()
    assert operator_client.get(listing + "?org=junk&sort=nope&health=bad").status_code == 200


# ------------------------------------------------------------------------- secrets
@pytest.mark.django_db
def test_no_page_shows_a_secret(operator_client, ds):
    token = OrgToken.objects.get(org=ds.org)
    secrets = [token.access_token, token.refresh_token, ds.nonce]
    assert all(secrets)
    pages = [
        reverse("datasources:list"),
        reverse("datasources:detail", args=[ds.public_id]),
        reverse("datasources:edit", args=[ds.public_id]),
        reverse("datasources:disable", args=[ds.public_id]),
        reverse("datasources:delete", args=[ds.public_id]),
        reverse("datasources:maintenance", args=[ds.public_id]),
        reverse("datasources:register", args=[ds.org.public_id]),
        reverse("tenants:org_detail", args=[ds.org.public_id]),
    ]
    for url in pages:
        response = operator_client.get(url)
        assert response.status_code == 200, url
        for secret in secrets:
            assert secret.encode() not in response.content, url


@pytest.mark.django_db
def test_refused_writes_record_nothing(auditor_client, ds):
    before = AuditEvent.objects.count()
    for name in ("rotate", "enable", "disable", "delete", "maintenance", "edit"):
        response = auditor_client.post(reverse(f"datasources:{name}", args=[ds.public_id]))
        assert response.status_code == 403, name
    assert AuditEvent.objects.count() == before
