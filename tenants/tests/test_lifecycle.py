"""Org life cycle against the emulator over real HTTP: onboarding, refresh, deauthorization."""

import datetime as dt
import threading

import pytest
import time_machine
from django.db import close_old_connections, connection
from django.utils import timezone

from audit.models import AuditEvent
from tenants.models import CustomerOrg, OrgToken
from tenants.services import (
    IllegalTransition,
    WebexRefused,
    org_authorized,
    org_deauthorized,
    org_onboard,
    org_tokens_claim_due,
    org_tokens_refresh,
    org_transition,
)

from .conftest import SYSTEM

Status = CustomerOrg.Status


def onboard(portal_app, webex_world, **kw):
    org_id = kw.pop("org_id") if "org_id" in kw else webex_world.org_webex_id
    return org_onboard(
        app=portal_app,
        webex_org_id=org_id,
        name=kw.pop("name", "Globex Retail"),
        region="us",
        actor=SYSTEM,
        **kw,
    )


@pytest.mark.django_db
def test_staff_onboarding_fetches_tokens_and_activates(portal_app, webex_world):
    org = onboard(portal_app, webex_world)
    assert org.status == Status.ACTIVE
    assert str(org.webex_org_id) == webex_world.org_id
    token = OrgToken.objects.get(org=org)
    assert token.has_tokens and token.access_expires_at > timezone.now() + dt.timedelta(days=13)
    assert token.next_refresh_at < token.access_expires_at
    # The snapshot comes from the org's authorization at Webex.
    assert org.authorized_domains == ["byods.example.com"]
    event = AuditEvent.objects.get(action="org.onboarded")
    assert event.org_id == org.public_id and event.outcome == "ok"
    assert token.access_token not in str(event.changes)


@pytest.mark.django_db
def test_onboarding_an_org_that_has_not_authorized_explains_and_stores_nothing(
    portal_app, emulator
):
    stranger = emulator.create_org("Not Yet Inc")
    with pytest.raises(WebexRefused, match="has not authorized the Service App") as err:
        onboard(portal_app, None, org_id=stranger["id"], name="Not Yet Inc")
    assert "trackingId" in err.value.reason
    assert not CustomerOrg.objects.exists()
    failed = AuditEvent.objects.get(action="org.onboarded")
    assert failed.outcome == "failed" and failed.tracking_id


@pytest.mark.django_db
def test_onboarding_twice_names_the_field(portal_app, webex_world):
    from django.core.exceptions import ValidationError

    onboard(portal_app, webex_world)
    with pytest.raises(ValidationError) as err:
        onboard(portal_app, webex_world)
    assert "already onboarded" in err.value.message_dict["webex_org_id"][0]
    with pytest.raises(ValidationError) as bad:
        onboard(portal_app, webex_world, org_id="nonsense")
    assert "webex_org_id" in bad.value.message_dict


@pytest.mark.django_db
def test_illegal_transitions_raise(portal_app, webex_world):
    org = onboard(portal_app, webex_world)
    with pytest.raises(IllegalTransition):
        org_transition(org, Status.OFFBOARDED)
    with pytest.raises(IllegalTransition):
        org_transition(org, Status.PENDING)


@pytest.mark.django_db
def test_authorized_webhook_path_creates_the_org_and_activates_it(portal_app, webex_world):
    import uuid

    org = org_authorized(
        app=portal_app,
        webex_org_id=uuid.UUID(webex_world.org_id),
        org_name="Globex",
        actor=SYSTEM,
    )
    assert org.status == Status.ACTIVE and org.token.has_tokens
    assert list(AuditEvent.objects.order_by("id").values_list("action", flat=True))[-2:] == [
        "org.authorized",
        "org.tokens_fetched",
    ]


@pytest.mark.django_db
def test_deauthorized_pauses_and_a_new_authorization_revives(portal_app, webex_world, emulator):
    import uuid

    org = onboard(portal_app, webex_world)
    emulator.deauthorize(webex_world.application_id, webex_world.org_id)
    org_deauthorized(app=portal_app, webex_org_id=org.webex_org_id, actor=SYSTEM)
    org.refresh_from_db()
    assert org.status == Status.DEAUTHORIZED
    assert OrgToken.objects.get(org=org).next_refresh_at is None  # nothing will refresh it
    emulator.authorize(webex_world.application_id, webex_world.org_id)
    org = org_authorized(app=portal_app, webex_org_id=uuid.UUID(webex_world.org_id), actor=SYSTEM)
    assert org.status == Status.ACTIVE


@pytest.mark.django_db
def test_refresh_happens_when_due_and_not_before(portal_app, webex_world, emulator):
    org = onboard(portal_app, webex_world)
    token = OrgToken.objects.get(org=org)
    assert org_tokens_refresh(org_id=org.pk, actor=SYSTEM).outcome == "not_due"
    with time_machine.travel(token.next_refresh_at + dt.timedelta(seconds=1)):
        emulator.advance_clock((token.next_refresh_at - timezone.now()).total_seconds() + 1)
        result = org_tokens_refresh(org_id=org.pk, actor=SYSTEM)
    assert result.outcome == "refreshed"
    fresh = OrgToken.objects.get(org=org)
    assert fresh.access_token != token.access_token
    assert fresh.refresh_token == token.refresh_token  # Webex kept it: so do we
    assert fresh.version == token.version + 1
    assert len(emulator.requests_log(path="/v1/access_token")) == 1


@pytest.mark.django_db
def test_a_rotated_refresh_token_is_persisted(portal_app, webex_world, emulator):
    emulator.set_config(rotateRefreshTokens=True)
    org = onboard(portal_app, webex_world)
    old = OrgToken.objects.get(org=org).refresh_token
    assert org_tokens_refresh(org_id=org.pk, force=True, actor=SYSTEM).outcome == "refreshed"
    new = OrgToken.objects.get(org=org).refresh_token
    assert new != old
    # The old one is dead at Webex; the stored one works.
    assert org_tokens_refresh(org_id=org.pk, force=True, actor=SYSTEM).outcome == "refreshed"


@pytest.mark.django_db
def test_invalid_grant_requires_reauthorization_and_stops_refreshing(
    portal_app, webex_world, emulator
):
    org = onboard(portal_app, webex_world)
    emulator.advance_clock(91 * 86400)  # the refresh token idled out at Webex
    result = org_tokens_refresh(org_id=org.pk, force=True, actor=SYSTEM)
    assert result.outcome == "reauthorization_required"
    org.refresh_from_db()
    assert org.status == Status.REAUTHORIZATION_REQUIRED
    assert OrgToken.objects.get(org=org).next_refresh_at is None
    calls = len(emulator.requests_log(path="/v1/access_token"))
    assert org_tokens_refresh(org_id=org.pk, force=True, actor=SYSTEM).outcome == "skipped"
    assert len(emulator.requests_log(path="/v1/access_token")) == calls  # no hammering
    event = AuditEvent.objects.get(action="org.reauthorization_required")
    assert event.tracking_id and event.outcome == "failed"


@pytest.mark.django_db
def test_transient_refresh_failure_backs_off(portal_app, webex_world, emulator):
    org = onboard(portal_app, webex_world)
    emulator.set_faults(
        [{"method": "POST", "pathRegex": "/v1/access_token", "kind": "status", "status": 503}]
    )
    result = org_tokens_refresh(org_id=org.pk, force=True, actor=SYSTEM)
    assert result.outcome == "failed"
    token = OrgToken.objects.get(org=org)
    assert token.consecutive_failures == 1
    assert timezone.now() < token.next_refresh_at < timezone.now() + dt.timedelta(minutes=2)
    org.refresh_from_db()
    assert org.status == Status.ACTIVE


@pytest.mark.django_db
def test_two_sweeps_never_claim_the_same_org(portal_app, webex_world):
    org = onboard(portal_app, webex_world)
    OrgToken.objects.filter(org=org).update(next_refresh_at=timezone.now())
    assert org_tokens_claim_due() == [org.pk]
    assert org_tokens_claim_due() == []


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_refresh_triggers_make_one_call(portal_app, webex_world, emulator):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL; SQLite serializes writers differently")
    org = onboard(portal_app, webex_world)
    seen = OrgToken.objects.get(org=org).version
    emulator.clear_requests_log()
    emulator.set_latency(100)  # widen the race window
    outcomes, barrier = [], threading.Barrier(50)

    def trigger():
        try:
            barrier.wait()
            outcomes.append(org_tokens_refresh(org_id=org.pk, seen_version=seen, actor=SYSTEM))
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=trigger) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(emulator.requests_log(path="/v1/access_token")) == 1
    assert sorted(r.outcome for r in outcomes).count("refreshed") == 1
    assert len(outcomes) == 50
