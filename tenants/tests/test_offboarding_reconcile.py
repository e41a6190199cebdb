"""Offboarding's input rules and missed-webhook reconciliation (the offboarding run itself is
tested on the top floor, operations/tests/test_offboarding.py)."""

import pytest
from django.core.exceptions import ValidationError

from tenants import services
from tenants.models import CustomerOrg

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


@pytest.mark.django_db
def test_offboarding_needs_the_exact_name_a_mode_and_a_reason(org):
    with pytest.raises(ValidationError) as err:
        services.org_offboard_start(org=org, confirm_name="globex", mode="nuke", reason="")
    assert set(err.value.message_dict) == {"confirm_name", "mode", "reason"}
    org.refresh_from_db()
    assert org.status == Status.ACTIVE


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
