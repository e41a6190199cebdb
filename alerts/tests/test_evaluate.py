"""Alert episodes derived from the portal's state."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from alerts import services
from alerts.models import Alert, Kind
from alerts.presentation import present
from audit.models import AuditEvent
from datasources.models import DataSource, DriftFinding
from tenants.models import CustomerOrg, OrgToken

from .conftest import SYSTEM

pytestmark = pytest.mark.django_db


def evaluate():
    return services.alerts_evaluate(actor=SYSTEM)


def test_nothing_wrong_opens_nothing(register):
    register()
    report = evaluate()
    assert report.opened == [] and report.resolved == []
    assert not Alert.objects.exists()


def test_an_org_that_must_reauthorize_is_one_episode_until_it_clears(org, django_user_model):
    owner = django_user_model.objects.create_user(username="owner@example.com")
    CustomerOrg.objects.filter(pk=org.pk).update(status="reauthorization_required", owner=owner)
    first = evaluate()
    assert len(first.opened) == 1
    alert = Alert.objects.get()
    assert alert.kind == Kind.ORG_REAUTHORIZATION and alert.owner == owner
    assert alert.summary == "Globex Retail must reauthorize the Service App"
    headline = present(alert).headline
    assert "Globex Retail must reauthorize" in headline and "data stops flowing in" in headline
    second = evaluate()
    assert second.opened == [] and second.touched == 1
    assert Alert.objects.count() == 1
    CustomerOrg.objects.filter(pk=org.pk).update(status="active")
    third = evaluate()
    assert third.resolved == [alert.pk]
    assert Alert.objects.get().resolved_at is not None
    assert AuditEvent.objects.filter(action="alert.resolved").count() == 1
    # It happens again: a new episode, a new row.
    CustomerOrg.objects.filter(pk=org.pk).update(status="reauthorization_required")
    fourth = evaluate()
    assert len(fourth.opened) == 1 and fourth.opened != [alert.pk]
    assert Alert.objects.count() == 2
    assert Alert.objects.filter(resolved_at__isnull=True).count() == 1


def test_a_failing_token_refresh_near_its_deadline_is_a_token_at_risk(org):
    now = timezone.now()
    OrgToken.objects.filter(org=org).update(
        consecutive_failures=3,
        last_error="boom",
        last_refreshed_at=now - dt.timedelta(days=13),
        access_expires_at=now + dt.timedelta(days=1, minutes=30),
    )
    evaluate()
    alert = Alert.objects.get()
    assert alert.kind == Kind.TOKEN_AT_RISK and alert.datasource is None
    assert alert.severity == "warning"
    headline = present(alert).headline
    assert "refreshing it failed 3 times in a row" in headline and "time(s)" not in headline
    assert headline.startswith("Data stops flowing in 1 d")


def test_data_sources_at_risk_and_failing_get_their_own_alerts(register):
    a = register(url="https://rx.byods.example.com/a")
    b = register(url="https://rx.byods.example.com/b")
    now = timezone.now()
    # a: 5 min left of 60 -> at risk; b: a rotation failing 3 times with plenty of time left
    DataSource.objects.filter(pk=a.pk).update(token_expires_at=now + dt.timedelta(minutes=5))
    DataSource.objects.filter(pk=b.pk).update(consecutive_failures=3)
    evaluate()
    kinds = dict(Alert.objects.values_list("datasource_id", "kind"))
    assert kinds == {a.pk: Kind.TOKEN_AT_RISK, b.pk: Kind.ROTATION_FAILING}
    at_risk = Alert.objects.get(datasource=a)
    headline = present(at_risk).headline
    assert headline.startswith(("Data stops flowing in 4 min", "Data stops flowing in 5 min"))
    assert "Globex Retail – https://rx.byods.example.com/a" in headline
    failing = present(Alert.objects.get(datasource=b)).headline
    assert "failed 3 times in a row" in failing


def test_open_drift_is_one_alert_per_org(org):
    for i in range(2):
        DriftFinding.objects.create(org=org, webex_id=f"w{i}", kind="unknown_here")
    evaluate()
    alert = Alert.objects.get()
    assert alert.kind == Kind.DRIFT_FOUND
    assert "2 differences between the portal and Webex" in present(alert).headline
    DriftFinding.objects.update(resolved_at=timezone.now())
    assert evaluate().resolved == [alert.pk]


def test_the_database_refuses_two_open_episodes_of_one_key(org):
    Alert.objects.create(kind=Kind.DRIFT_FOUND, dedup_key="k", org=org, summary="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(kind=Kind.DRIFT_FOUND, dedup_key="k", org=org, summary="y")


def test_evaluation_never_resolves_an_incident(org, django_user_model):
    user = django_user_model.objects.create_user(username="op@example.com")
    incident = services.alert_incident_raise(org=org, summary="Webex outage in EU", user=user)
    evaluate()
    assert Alert.objects.get(pk=incident.pk).resolved_at is None


def test_acknowledge_once_and_not_after_resolution(org, django_user_model):
    one = django_user_model.objects.create_user(username="one@example.com")
    two = django_user_model.objects.create_user(username="two@example.com")
    incident = services.alert_incident_raise(org=org, summary="Webex outage in EU", user=one)
    services.alert_acknowledge(alert=incident, user=one)
    again = services.alert_acknowledge(alert=incident, user=two)
    assert again.acknowledged_by == one
    assert AuditEvent.objects.filter(action="alert.acknowledged").count() == 1
    services.alert_resolve(alert=incident, user=one)
    other = services.alert_incident_raise(org=org, summary="Second thing", user=one)
    services.alert_resolve(alert=other, user=one)
    with pytest.raises(ValidationError) as exc:
        services.alert_acknowledge(alert=other, user=two)
    assert "already resolved" in str(exc.value)


def test_only_incidents_are_resolved_by_hand(org, django_user_model):
    user = django_user_model.objects.create_user(username="op@example.com")
    alert = Alert.objects.create(kind=Kind.DRIFT_FOUND, dedup_key="k", org=org, summary="x")
    with pytest.raises(ValidationError) as exc:
        services.alert_resolve(alert=alert, user=user)
    assert "clears on its own" in str(exc.value)


def test_an_incident_needs_a_description(org, django_user_model):
    user = django_user_model.objects.create_user(username="op@example.com")
    with pytest.raises(ValidationError) as exc:
        services.alert_incident_raise(org=org, summary=" x ", user=user)
    assert "summary" in exc.value.message_dict
