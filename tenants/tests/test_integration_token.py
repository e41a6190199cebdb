"""The partner's integration token refreshes itself before it expires (emulator over HTTP)."""

import datetime as dt

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from tenants import services, tasks
from tenants.models import ServiceApp

from .conftest import SYSTEM


@pytest.fixture
def refreshable_app(db, settings, webex_world, emulator):
    settings.WEBEX_REGIONS = {
        r: {"api": webex_world.api_base, "idbroker": webex_world.idbroker_base}
        for r in ("us", "eu", "integration")
    }
    token = emulator.create_integration_token(with_refresh=True)
    return services.serviceapp_create(
        name="Acme",
        client_id=webex_world.client_id,
        client_secret=webex_world.client_secret,
        valid_domains=["byods.example.com"],
        schema_ids=["5397013b-7920-4ffc-807c-e8a3e0a18f43"],
        region="us",
        integration_token=token["accessToken"],
        integration_token_expires_at=timezone.now() + dt.timedelta(seconds=token["expiresIn"]),
        integration_refresh_token=token["refreshToken"],
        integration_client_id=token["clientId"],
        integration_client_secret=token["clientSecret"],
        actor=SYSTEM,
    )


def test_it_refreshes_only_when_due_and_the_new_token_works(refreshable_app, webex_world):
    app = refreshable_app
    assert services.serviceapp_integration_token_refresh(app=app, actor=SYSTEM) == "not_due"
    ServiceApp.objects.filter(pk=app.pk).update(
        integration_token_expires_at=timezone.now() + dt.timedelta(hours=3)
    )
    old = ServiceApp.objects.get(pk=app.pk).integration_token
    assert services.serviceapp_integration_token_refresh(app=app, actor=SYSTEM) == "refreshed"
    fresh = ServiceApp.objects.get(pk=app.pk)
    assert fresh.integration_token != old
    assert fresh.integration_token_expires_at > timezone.now() + dt.timedelta(days=13)
    org = services.org_onboard(  # the new token fetches org tokens
        app=fresh, webex_org_id=webex_world.org_id, name="Globex", region="us", actor=SYSTEM
    )
    assert org.status == "active"
    event = AuditEvent.objects.get(action="serviceapp.token_refreshed", outcome="ok")
    assert old not in str(event.changes) and fresh.integration_token not in str(event.changes)


def test_a_personal_token_is_not_refreshable(portal_app):
    result = services.serviceapp_integration_token_refresh(app=portal_app, force=True)
    assert result == "not_refreshable"


def test_a_dead_refresh_token_is_recorded_with_webex_reason(refreshable_app, emulator):
    emulator.advance_clock(91 * 86400)
    result = services.serviceapp_integration_token_refresh(
        app=refreshable_app, force=True, actor=SYSTEM
    )
    assert result == "failed"
    event = AuditEvent.objects.get(action="serviceapp.token_refreshed", outcome="failed")
    assert "expired or revoked" in event.error and event.tracking_id


def test_the_hourly_task_refreshes_due_apps(refreshable_app):
    ServiceApp.objects.filter(pk=refreshable_app.pk).update(
        integration_token_expires_at=timezone.now() + dt.timedelta(hours=1)
    )
    assert tasks.refresh_integration_tokens() == {"refreshed": 1}
