"""Every bulk page for every persona, allowed and refused; the flow end to end."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.models import AuditEvent
from datasources.models import DataSource
from operations import services, tasks
from operations.models import BulkItem, BulkOperation
from operations.selectors import Selection
from tenants.models import OrgToken

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


@pytest.fixture
def queued(monkeypatch):
    """Operations the views hand to the worker (run by hand in the tests that need it)."""
    ids: list[int] = []
    monkeypatch.setattr(tasks.run, "delay_on_commit", ids.append)
    return ids


def ds_params(kind, *sources, **extra):
    return {
        "kind": kind,
        "target": "datasource",
        "ids": [str(s.public_id) for s in sources],
    } | extra


def finished_op(sources, user, kind="rotate", params=None):
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


# ------------------------------------------------------------------------- the list pages
@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["operator", "onboarding", "auditor"])
def test_lists_offer_the_actions_the_role_may_start(client_for, sources, org, persona):
    client = client_for(persona)
    html = client.get(reverse("datasources:list")).content.decode()
    assert (reverse("operations:preview") in html) == (persona in EDIT)
    assert ('value="rotate"' in html) == (persona in EDIT)
    assert ('value="disable"' in html) == (persona in OPERATE)
    assert (f'value="{sources[0].public_id}" form="bulk"' in html) == (persona in EDIT)
    assert ("all 4 matching the current filter" in html) == (persona in EDIT)
    orgs = client.get(reverse("tenants:org_list")).content.decode()
    assert ('value="offboard"' in orgs) == (persona in OPERATE)
    assert ('value="rotate"' in orgs) == (persona in EDIT)  # their data sources
    assert (f'value="{org.public_id}" form="bulk"' in orgs) == (persona in EDIT)


@pytest.mark.django_db
def test_org_list_pages_keep_the_search_status_and_sort(operator_client, portal_app):
    from tenants.models import CustomerOrg

    CustomerOrg.objects.bulk_create(
        CustomerOrg(
            service_app=portal_app,
            name=f"Org {i:02}",
            webex_org_id=f"00000000-0000-4000-8000-{i:012}",
            status="active",
        )
        for i in range(60)
    )
    html = operator_client.get(
        reverse("tenants:org_list"), {"q": "Org", "status": "active", "sort": "-name"}
    ).content.decode()
    assert "?q=Org&amp;status=active&amp;sort=-name&amp;page=2" in html
    assert "Org 59" in html and "Org 00" not in html


# ------------------------------------------------------------------------- preview
@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_preview_rotate_by_persona(client_for, sources, persona):
    response = client_for(persona).get(
        reverse("operations:preview"), ds_params("rotate", *sources[:2])
    )
    expect(response, persona, EDIT)
    if persona in EDIT:
        html = response.content.decode()
        assert "Rotate now: 2 selected data sources" in html
        assert sources[0].url in html and sources[2].url not in html
        assert 'action="/bulk/start/"' in html


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_preview_disable_by_persona(client_for, sources, persona):
    response = client_for(persona).get(
        reverse("operations:preview"), ds_params("disable", *sources)
    )
    expect(response, persona, OPERATE)
    if persona in OPERATE:
        html = response.content.decode()
        assert 'name="message"' in html and "<label" in html
        assert "Webex stops sending data" in html


@pytest.mark.django_db
def test_preview_shows_skips_and_the_all_matching_count(operator_client, sources):
    DataSource.objects.filter(pk=sources[0].pk).update(status="disabled", error_message="x")
    response = operator_client.get(
        reverse("operations:preview"),
        {"kind": "disable", "target": "datasource", "all": "1", "q": "byods.example.com"},
    )
    html = response.content.decode()
    assert "all data sources matching q=byods.example.com" in html
    assert "1 already disabled" in html
    assert "Disable: 3 data sources" in html
    assert 'name="all" value="1"' in html  # carried to the confirmation


@pytest.mark.django_db
def test_preview_with_nothing_selected_goes_back_with_a_message(operator_client, sources):
    response = operator_client.get(
        reverse("operations:preview"), {"kind": "rotate", "target": "datasource"}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("datasources:list")
    assert "Select at least one row" in response.content.decode()


@pytest.mark.django_db
def test_preview_when_nothing_would_change_says_so(operator_client, sources):
    response = operator_client.get(reverse("operations:preview"), ds_params("enable", *sources))
    html = response.content.decode()
    assert "Nothing in this selection would change" in html
    assert 'action="/bulk/start/"' not in html


# ------------------------------------------------------------------------- start
@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_start_rotate_by_persona(client_for, sources, persona, queued):
    response = client_for(persona).post(reverse("operations:start"), ds_params("rotate", *sources))
    expect(response, persona, EDIT, ok=(302,))
    assert BulkOperation.objects.count() == (1 if persona in EDIT else 0)
    if persona in EDIT:
        op = BulkOperation.objects.get()
        assert response.url == reverse("operations:detail", args=[op.public_id])
        assert queued == [op.pk] and op.total == 4


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["disable", "enable"])
@pytest.mark.parametrize("persona", PERSONAS)
def test_start_destructive_kinds_by_persona(client_for, sources, persona, kind, queued):
    data = ds_params(kind, *sources, message="Planned maintenance")
    response = client_for(persona).post(reverse("operations:start"), data)
    expect(response, persona, OPERATE, ok=(302,))
    assert BulkOperation.objects.count() == (1 if persona in OPERATE else 0)


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_start_offboard_by_persona(client_for, org, persona, queued):
    data = {
        "kind": "offboard",
        "target": "org",
        "ids": [str(org.public_id)],
        "mode": "disable",
        "reason": "Contract ended",
        "confirm_count": "1",
    }
    response = client_for(persona).post(reverse("operations:start"), data)
    expect(response, persona, OPERATE, ok=(302,))
    assert BulkOperation.objects.filter(kind="offboard").count() == (1 if persona in OPERATE else 0)


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_disable_the_data_sources_of_chosen_orgs_by_persona(
    client_for, org, sources, persona, queued
):
    client = client_for(persona)
    data = {"kind": "disable", "target": "org", "ids": [str(org.public_id)]}
    response = client.get(reverse("operations:preview"), data)
    expect(response, persona, OPERATE)
    if persona in OPERATE:
        html = response.content.decode()
        assert "Disable: the data sources of 1 selected org" in html
        assert "Disable: 4 data sources" in html
    response = client.post(reverse("operations:start"), data | {"message": "Upgrade"})
    expect(response, persona, OPERATE, ok=(302,))
    if persona in OPERATE:
        op = BulkOperation.objects.get()
        assert (op.target_type, op.total) == ("datasource", 4)
        assert set(op.items.values_list("target_public_id", flat=True)) == {
            s.public_id for s in sources
        }


@pytest.mark.django_db
def test_offboarding_needs_the_typed_count(operator_client, org, queued):
    data = {"kind": "offboard", "target": "org", "ids": [str(org.public_id)]}
    html = operator_client.get(reverse("operations:preview"), data).content.decode()
    assert 'name="confirm_count"' in html and "Type the number of orgs" in html
    data |= {"mode": "disable", "reason": "Contract ended", "confirm_count": "2"}
    response = operator_client.post(reverse("operations:start"), data)
    assert response.status_code == 400
    assert "Type 1: the number of orgs" in response.content.decode()
    assert not BulkOperation.objects.exists() and queued == []


@pytest.mark.django_db
def test_disable_without_a_message_shows_the_error_beside_the_field(
    operator_client, sources, queued
):
    response = operator_client.post(reverse("operations:start"), ds_params("disable", *sources))
    assert response.status_code == 400
    html = response.content.decode()
    assert 'aria-invalid="true"' in html
    assert "Disabling needs a message" in html
    assert not BulkOperation.objects.exists() and queued == []


@pytest.mark.django_db
def test_start_refuses_get_and_a_malformed_id(operator_client, sources, queued):
    assert operator_client.get(reverse("operations:start")).status_code == 405
    response = operator_client.post(
        reverse("operations:start"),
        {"kind": "rotate", "target": "datasource", "ids": ["nope"]},
        follow=True,
    )
    assert "Not a valid id: nope." in response.content.decode()
    assert not BulkOperation.objects.exists()


# ------------------------------------------------------------------------- watching
@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_list_detail_and_progress_by_persona(client_for, sources, operator_user, persona):
    op = finished_op(sources[:1], operator_user)
    client = client_for(persona)
    for url in (
        reverse("operations:list"),
        reverse("operations:detail", args=[op.public_id]),
        reverse("operations:progress", args=[op.public_id]),
    ):
        expect(client.get(url), persona, READ)


@pytest.mark.django_db
def test_list_is_empty_then_paginated(operator_client, sources, operator_user):
    html = operator_client.get(reverse("operations:list")).content.decode()
    assert "No bulk actions yet" in html
    for _ in range(26):
        services.bulk_operation_start(
            kind="rotate",
            selection=Selection("datasource", (sources[0].public_id,)),
            user=operator_user,
        )
    html = operator_client.get(reverse("operations:list")).content.decode()
    assert "Page 1 of 2" in html


@pytest.mark.django_db
def test_list_filters_by_action_and_state(operator_client, sources, operator_user):
    rotate = finished_op(sources[:1], operator_user)
    enable = services.bulk_operation_start(
        kind="enable",
        selection=Selection("datasource", (sources[1].public_id,)),
        user=operator_user,
    )
    url = reverse("operations:list")

    def shown(**query):
        html = operator_client.get(url, query).content.decode()
        return {op for op in (rotate, enable) if str(op.public_id) in html}

    assert shown() == {rotate, enable}
    assert shown(kind="rotate") == {rotate}
    assert shown(state="pending") == {enable}
    assert shown(kind="nonsense") == {rotate, enable}  # unknown values are ignored
    html = operator_client.get(url, {"kind": "offboard"}).content.decode()
    assert "No bulk action matches these filters" in html


@pytest.mark.django_db
def test_the_progress_partial_polls_until_done(operator_client, sources, operator_user):
    op = services.bulk_operation_start(
        kind="rotate",
        selection=Selection("datasource", tuple(s.public_id for s in sources)),
        user=operator_user,
    )
    url = reverse("operations:progress", args=[op.public_id])
    html = operator_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert 'hx-trigger="every 1s"' in html and "0 of 4 done" in html
    services.bulk_operation_run(operation_id=op.pk, limit=2)
    response = operator_client.get(url, headers={"HX-Request": "true"})
    assert 'aria-valuenow="2"' in response.content.decode() and "HX-Refresh" not in response
    while services.bulk_operation_run(operation_id=op.pk):
        pass
    response = operator_client.get(url, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "hx-trigger" not in html and "4 succeeded" in html
    assert response["HX-Refresh"] == "true"  # reload once to show the report
    detail = operator_client.get(reverse("operations:detail", args=[op.public_id])).content.decode()
    assert "hx-trigger" not in detail and "Nothing failed." in detail


@pytest.mark.django_db
def test_the_report_lists_failures_with_reasons_and_no_secret(
    operator_client, sources, operator_user, emulator
):
    from .conftest import fail_puts_to

    fail_puts_to(emulator, sources[1])
    op = finished_op(
        sources, operator_user, kind="disable", params={"message": "Planned maintenance"}
    )
    html = operator_client.get(reverse("operations:detail", args=[op.public_id])).content.decode()
    assert "Failed (1)" in html and "Injected failure" in html
    assert "Retry the 1 failure" in html
    assert sources[1].url in html
    token = OrgToken.objects.get(org=sources[0].org)
    for secret in (token.access_token, token.refresh_token):
        assert secret not in html


@pytest.mark.django_db
def test_the_operation_page_costs_the_same_queries_for_many_items(
    operator_client, register, operator_user, emulator
):
    sources = [register(url=f"https://q{i}.byods.example.com/x") for i in range(12)]
    emulator.set_faults([{"method": "PUT", "kind": "status", "status": 500, "times": None}])
    small = finished_op(sources[:2], operator_user)
    large = finished_op(sources, operator_user)
    assert (small.failed, large.failed) == (2, 12)

    def count(op):
        with CaptureQueriesContext(connection) as ctx:
            assert (
                operator_client.get(reverse("operations:detail", args=[op.public_id])).status_code
                == 200
            )
        return len(ctx.captured_queries)

    assert count(small) == count(large)


# ------------------------------------------------------------------------- retry
@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_retry_failures_by_persona(client_for, sources, operator_user, emulator, persona, queued):
    from .conftest import fail_puts_to

    fail_puts_to(emulator, sources[0])
    op = finished_op(sources[:2], operator_user)
    assert op.failed == 1
    response = client_for(persona).post(reverse("operations:retry", args=[op.public_id]))
    expect(response, persona, EDIT, ok=(302,))
    retries = BulkOperation.objects.filter(retry_of=op)
    assert retries.count() == (1 if persona in EDIT else 0)
    if persona in EDIT:
        retry = retries.get()
        assert response.url == reverse("operations:detail", args=[retry.public_id])
        assert list(retry.items.values_list("target_public_id", flat=True)) == [
            sources[0].public_id
        ]
        assert queued == [retry.pk]


@pytest.mark.django_db
def test_onboarding_may_not_retry_a_disable(onboarding_client, sources, operator_user, emulator):
    from .conftest import fail_puts_to

    fail_puts_to(emulator, sources[0])
    op = finished_op(sources[:1], operator_user, kind="disable", params={"message": "m"})
    assert (
        onboarding_client.post(reverse("operations:retry", args=[op.public_id])).status_code == 403
    )
    html = onboarding_client.get(reverse("operations:detail", args=[op.public_id])).content.decode()
    assert "Retry the" not in html


@pytest.mark.django_db
def test_retry_without_failures_explains(operator_client, sources, operator_user, queued):
    op = finished_op(sources[:1], operator_user)
    response = operator_client.post(reverse("operations:retry", args=[op.public_id]), follow=True)
    assert "no failures to retry" in response.content.decode()
    assert queued == []


@pytest.mark.django_db
def test_refused_starts_record_nothing(auditor_client, sources):
    before = AuditEvent.objects.count()
    auditor_client.post(reverse("operations:start"), ds_params("rotate", *sources))
    assert AuditEvent.objects.count() == before
    assert not BulkItem.objects.exists()
