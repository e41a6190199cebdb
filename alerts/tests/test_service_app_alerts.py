"""A Service App whose integration token fails to refresh raises an alert of its own (no org),
from the hourly task, and clears when a refresh succeeds (emulator over HTTP)."""

import datetime as dt

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from alerts import services
from alerts.models import Alert, Kind
from alerts.presentation import present
from tenants import tasks
from tenants.models import ServiceApp
from tenants.tests.test_integration_token import refreshable_app  # noqa: F401 - fixture

from .conftest import SYSTEM

pytestmark = pytest.mark.django_db


def due(app: ServiceApp) -> None:
    ServiceApp.objects.filter(pk=app.pk).update(
        integration_token_expires_at=timezone.now() + dt.timedelta(hours=1)
    )


def test_a_failing_integration_refresh_opens_an_alert_about_the_app_and_clears(
    refreshable_app,  # noqa: F811
    emulator,
    operator_client,  # noqa: F811
):
    services.alertchannel_create(
        team="Platform",
        email_recipients=["platform@example.com"],
        kinds=[Kind.INTEGRATION_TOKEN_FAILING],
        actor=SYSTEM,
    )
    due(refreshable_app)
    emulator.set_faults(
        [{"method": "POST", "pathRegex": "access_token", "kind": "status", "status": 503}]
    )
    assert tasks.refresh_integration_tokens() == {"failed": 1}
    report = services.alerts_evaluate()
    alert = Alert.objects.get(kind=Kind.INTEGRATION_TOKEN_FAILING)
    assert report.opened == [alert.pk]
    assert alert.org is None and alert.service_app_id == refreshable_app.pk
    shown = present(alert)
    assert "Service App Acme failed once;" in shown.headline
    assert "trackingId" in shown.cause.error and "it expires in" in shown.headline
    services.alert_deliver(alert=alert, event="opened", actor=SYSTEM)
    assert mail.outbox[-1].subject == (
        "[BYODS ALERT] Integration token refresh failing: Service App Acme (warning)"
    )
    page = operator_client.get(reverse("alerts:list")).content.decode()
    assert reverse("tenants:serviceapp_detail", args=[refreshable_app.public_id]) in page
    api = operator_client.get("/api/v1/alerts/").json()["results"][0]
    assert api["org"] is None and api["service_app"] == str(refreshable_app.public_id)
    assert api["about"] == "Service App Acme" and api["severity"] == "warning"

    emulator.clear_faults()
    assert tasks.refresh_integration_tokens() == {"refreshed": 1}
    assert services.alerts_evaluate().resolved == [alert.pk]
    app = ServiceApp.objects.get(pk=refreshable_app.pk)
    assert (app.integration_refresh_failures, app.integration_refresh_error) == (0, "")
