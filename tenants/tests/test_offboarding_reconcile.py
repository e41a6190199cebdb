"""Offboarding (including a crash halfway and the resume) and missed-webhook reconciliation."""

import uuid

import pytest
from django.core.exceptions import ValidationError

from audit.models import AuditEvent
from tenants import services
from tenants.models import CustomerOrg, OrgToken
from webex.client import WebexClient
from webex.types import DataSourceRequest

from .conftest import SYSTEM

Status = CustomerOrg.Status
SCHEMA = "5397013b-7920-4ffc-807c-e8a3e0a18f43"


@pytest.fixture
def org(portal_app, webex_world):
    return services.org_onboard(
        app=portal_app,
        webex_org_id=webex_world.org_id,
        name="Globex Retail",
        region="us",
        actor=SYSTEM,
    )


def register(webex_world, org, n):
    client = WebexClient(api_base=webex_world.api_base)
    token = OrgToken.objects.get(org=org).access_token
    return [
        client.register_datasource(
            access_token=token,
            request=DataSourceRequest(
                schema_id=SCHEMA,
                url=f"https://rx{i}.byods.example.com/feed",
                audience="rx",
                subject="s",
                nonce=uuid.uuid4().hex,
                token_lifetime_minutes=60,
            ),
        )
        for i in range(n)
    ]


def at_webex(emulator, org):
    return [d for d in emulator.state()["dataSources"] if d["orgId"] == str(org.webex_org_id)]


@pytest.mark.django_db
def test_offboarding_needs_the_exact_name_a_mode_and_a_reason(org):
    with pytest.raises(ValidationError) as err:
        services.org_offboard_start(org=org, confirm_name="globex", mode="nuke", reason="")
    assert set(err.value.message_dict) == {"confirm_name", "mode", "reason"}
    org.refresh_from_db()
    assert org.status == Status.ACTIVE


@pytest.mark.django_db
def test_offboarding_disables_every_data_source_then_destroys_tokens(org, webex_world, emulator):
    register(webex_world, org, 3)
    services.org_offboard_start(
        org=org, confirm_name="Globex Retail", mode="disable", reason="Contract ended", actor=SYSTEM
    )
    assert services.org_offboard_run(org=org, actor=SYSTEM) == "offboarded"
    remote = at_webex(emulator, org)
    assert [d["status"] for d in remote] == ["disabled"] * 3
    assert {d["errorMessage"] for d in remote} == {"Contract ended"}
    org.refresh_from_db()
    token = OrgToken.objects.get(org=org)
    assert org.status == Status.OFFBOARDED and not token.access_token and token.destroyed_at
    assert org.offboard_progress["done"] == 3
    actions = list(AuditEvent.objects.filter(org_id=org.public_id).values_list("action", flat=True))
    assert actions.count("datasource.disabled") == 3
    assert {"org.offboarding_started", "org.tokens_destroyed", "org.offboarded"} <= set(actions)


@pytest.mark.django_db
def test_offboarding_that_crashed_halfway_resumes_where_it_stopped(
    org, webex_world, emulator, monkeypatch
):
    register(webex_world, org, 4)
    services.org_offboard_start(
        org=org, confirm_name="Globex Retail", mode="delete", reason="Customer left", actor=SYSTEM
    )
    real_save, calls = services._save_progress, []

    def crash_after_two_deletes(o, **progress):
        real_save(o, **progress)
        calls.append(progress)
        if len(calls) == 3:  # the initial total, then two deletes: the worker dies here
            raise SystemExit("worker killed")

    monkeypatch.setattr(services, "_save_progress", crash_after_two_deletes)
    with pytest.raises(SystemExit):
        services.org_offboard_run(org=org, actor=SYSTEM)
    org.refresh_from_db()
    assert org.status == Status.OFFBOARDING and OrgToken.objects.get(org=org).has_tokens
    assert len(at_webex(emulator, org)) == 2
    assert org.offboard_progress["done"] == 2
    monkeypatch.setattr(services, "_save_progress", real_save)
    assert services.org_offboard_run(org=org, actor=SYSTEM) == "offboarded"
    assert at_webex(emulator, org) == []
    deletes = [r for r in emulator.requests_log(method="DELETE") if r["status"] == 204]
    assert len(deletes) == 4  # each data source deleted exactly once
    assert services.org_offboard_run(org=org, actor=SYSTEM) == "already offboarded"


@pytest.mark.django_db
def test_offboarding_with_webex_failures_stops_short_and_retries(org, webex_world, emulator):
    register(webex_world, org, 3)
    services.org_offboard_start(
        org=org, confirm_name="Globex Retail", mode="delete", reason="Customer left", actor=SYSTEM
    )
    emulator.set_faults(
        [
            {
                "method": "DELETE",
                "pathRegex": "/v1/dataSources/",
                "kind": "status",
                "status": 500,
                "times": 3,
            }
        ]
    )  # the client retries DELETE once more
    assert "failed" in services.org_offboard_run(org=org, actor=SYSTEM)
    org.refresh_from_db()
    assert org.status == Status.OFFBOARDING and OrgToken.objects.get(org=org).has_tokens
    failed = AuditEvent.objects.filter(action="datasource.deleted", outcome="failed")
    assert failed.exists() and all(e.tracking_id for e in failed)
    emulator.clear_faults()
    assert services.org_offboard_run(org=org, actor=SYSTEM) == "offboarded"
    assert at_webex(emulator, org) == []


@pytest.mark.django_db
def test_reconcile_onboards_a_missed_authorization_and_pauses_a_missed_removal(
    portal_app, webex_world, emulator, org
):
    other = emulator.create_org("Initech Insurance")
    emulator.authorize(webex_world.application_id, other["id"])  # webhook missed
    emulator.deauthorize(webex_world.application_id, webex_world.org_id)  # webhook missed
    report = services.serviceapp_reconcile(app=portal_app, actor=SYSTEM)
    assert report.available and report.onboarded == ("Initech Insurance",)
    assert report.paused == ("Globex Retail",)
    org.refresh_from_db()
    assert org.status == Status.DEAUTHORIZED
    new = CustomerOrg.objects.get(webex_org_id=other["id"])
    assert new.status == Status.ACTIVE and new.name == "Initech Insurance"
    assert services.serviceapp_reconcile(app=portal_app, actor=SYSTEM).summary.startswith(
        "Portal and Webex agree"
    )


@pytest.mark.django_db
def test_reconcile_changes_nothing_when_webex_does_not_answer(portal_app, emulator, org):
    emulator.set_faults(
        [{"method": "GET", "pathRegex": "/v1/applications/", "kind": "status", "status": 503}]
    )
    report = services.serviceapp_reconcile(app=portal_app, actor=SYSTEM)
    assert not report.available and "nothing changed" in report.summary
    org.refresh_from_db()
    assert org.status == Status.ACTIVE


@pytest.mark.django_db
def test_register_webhooks_command(portal_app, emulator, capsys):
    from django.core.management import CommandError, call_command

    call_command(
        "register_webhooks",
        portal_app.client_id,
        "--target-url",
        "https://portal.example.com/webhooks/webex/",
    )
    assert "Registered webhooks" in capsys.readouterr().out
    hooks = emulator.state()["webhooks"]
    assert {h["event"] for h in hooks} == {"authorized", "deauthorized"}
    assert all(h["filter"] == f"id={portal_app.application_id}" for h in hooks)
    with pytest.raises(CommandError, match="No Service App"):
        call_command("register_webhooks", "nope")
