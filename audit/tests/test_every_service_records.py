"""Every service that changes state writes an audit event.

The test discovers every public function in every app's `services` module (or package) and
fails when one is neither exercised here nor explicitly exempt, so a new service cannot ship
without showing the event it records.
"""

import importlib
import inspect
import pkgutil

import pytest

from accounts.roles import Role
from audit.context import Actor
from audit.models import AuditEvent
from audit.vocabulary import Action

APPS = ("accounts", "tenants", "datasources", "operations", "audit", "alerts")
ACTOR = Actor.system("test")
SCHEMA = "5397013b-7920-4ffc-807c-e8a3e0a18f43"

# Functions in services modules that do not change state by themselves.
EXEMPT = {
    "accounts.services.generate_password": "returns a random string",
    "accounts.services.apikey_hash": "a digest",
    "accounts.services.recovery_digest": "a digest",
    "accounts.services.mfa_enrol_begin": (
        "an unconfirmed device that counts for nothing; mfa_enrol_confirm is audited"
    ),
    "tenants.services.lifecycle.org_transition": "in-memory check used inside the audited services",
    "tenants.services.onboarding.parse_org_id": "parses input",
    "tenants.services.tokens.org_token_due": "a predicate",
    "tenants.services.tokens.org_tokens_claim_due": (
        "a work lease; the refresh it leads to is audited"
    ),
    "datasources.services._common.new_nonce": "returns a random string",
    "datasources.services.rotation.datasource_claim_due": "a work lease; the rotation is audited",
    "datasources.services.expiry.expiry_apply": (
        "sets the expiry fields in memory; the rotation or registration saving them is audited"
    ),
    "audit.services.audit_record": "the recorder itself",
    "audit.services.audit_record_failure": "the recorder itself",
    "audit.services.audit_record_many": "the recorder itself",
    "operations.services.bulk_preview": "reads only: what a bulk operation would change",
    "operations.services.bulk_kind_allowed": "a predicate",
    "alerts.services.delivery.webhook_signature": "computes an HMAC",
    "tenants.services.offboarding.org_offboard_progress_save": (
        "progress counters of an audited offboarding"
    ),
    "tenants.services.offboarding.org_offboard_attempt_started": (
        "progress counters of an audited offboarding"
    ),
    "tenants.services.offboarding.org_offboard_attempt_failed": (
        "records the attempt's failure (outcome failed): operations/tests/test_offboarding.py"
    ),
}


def _staff_user_create(world):
    from accounts.services import staff_user_create

    staff_user_create(email="new@example.com", role=Role.AUDITOR, actor=ACTOR)


def _person():
    from accounts.services import staff_user_create

    user, _ = staff_user_create(email="person@example.com", role=Role.ONBOARDING, actor=ACTOR)
    return user


def _enrolled(user):
    from django_otp.oath import TOTP

    from accounts.services import mfa_enrol_begin, mfa_enrol_confirm

    device = mfa_enrol_begin(user=user)
    token = TOTP(device.bin_key).token()
    return mfa_enrol_confirm(user=user, token=f"{token:06d}", actor=ACTOR)


def _mfa_verify(world):
    from accounts.services import mfa_verify

    user = _person()
    codes = _enrolled(user)
    mfa_verify(user=user, token=codes[0], actor=ACTOR)


def _staff_action(name: str, **extra):
    def run(world):
        from accounts import services

        getattr(services, name)(user=_person(), reason="a reason", actor=ACTOR, **extra)

    return run


def _staff_reactivate(world):
    from accounts.services import staff_deactivate, staff_reactivate

    user = _person()
    staff_deactivate(user=user, reason="left the team", actor=ACTOR)
    staff_reactivate(user=user, reason="rehired", actor=ACTOR)


def _staff_invite(world):
    from accounts.services import staff_invite

    return staff_invite(email="inv@example.com", role="auditor", reason="new hire", actor=ACTOR)


def _staff_invite_accept(world):
    from accounts.services import staff_invite_accept

    _, token = _staff_invite(world)
    staff_invite_accept(token=token, password="a-long-passphrase-1")


def _access_review_exported(world):
    from accounts.services import staff_access_review_exported

    staff_access_review_exported(actor=ACTOR)


def _staff_sign_in_lock(world):
    from accounts.services import staff_sign_in_lock

    staff_sign_in_lock(username="someone@example.com", client_ip="203.0.113.9")


def _staff_sso_sign_in(world):
    from accounts.services import staff_sso_sign_in

    result = staff_sso_sign_in(
        issuer="https://idp.example.com",
        subject="sub-1",
        email="sso@example.com",
        full_name="Sam Sso",
        groups=["byods-ops"],
        role=Role.OPERATOR,
    )
    assert result.user is not None


def _tenants(world, **kw):
    """A portal Service App (and, unless told otherwise, an onboarded org) in the emulator."""
    from tenants import services

    app = services.serviceapp_create(
        name="App",
        client_id=world.client_id,
        client_secret=world.client_secret,
        valid_domains=["byods.example.com"],
        schema_ids=["5397013b-7920-4ffc-807c-e8a3e0a18f43"],
        region="us",
        integration_token=world.integration_token,
        actor=ACTOR,
    )
    if kw.get("no_org"):
        return app, None
    org = services.org_onboard(
        app=app, webex_org_id=world.org_id, name="Globex", region="us", actor=ACTOR
    )
    return app, org


def _serviceapp_create(world):
    _tenants(world, no_org=True)


def _integration_refresh(world):
    from tenants import services

    app, _ = _tenants(world, no_org=True)
    token = world.control.create_integration_token(with_refresh=True)
    app.integration_refresh_token = token["refreshToken"]
    app.integration_client_id = token["clientId"]
    app.integration_client_secret = token["clientSecret"]
    app.save()
    assert services.serviceapp_integration_token_refresh(app=app, force=True, actor=ACTOR) == (
        "refreshed"
    )


def _serviceapp_register_webhooks(world):
    from tenants import services

    app, _ = _tenants(world, no_org=True)
    services.serviceapp_register_webhooks(app=app, target_url="https://p.example/h", actor=ACTOR)


def _org_onboard(world):
    _tenants(world)


def _org_tokens_paste(world):
    from tenants import services
    from webex.client import WebexClient

    app, _ = _tenants(world, no_org=True)
    org = services.org_onboarding_start(
        app=app, webex_org_id=world.org_id, name="Globex", region="us", actor=ACTOR
    )
    pair = WebexClient(api_base=world.api_base).org_token(  # Webex checks a pasted pair
        integration_token=world.integration_token,
        client_id=world.client_id,
        client_secret=world.client_secret,
        target_org_id=world.org_id,
    )
    services.org_tokens_paste(
        org=org, access_token=pair.access_token, refresh_token=pair.refresh_token, actor=ACTOR
    )


def _org_authorized(world):
    import uuid

    from tenants import services

    app, _ = _tenants(world, no_org=True)
    services.org_authorized(app=app, webex_org_id=uuid.UUID(world.org_id), actor=ACTOR)


def _org_tokens_fetch(world):
    from tenants import services
    from tenants.models import CustomerOrg

    app, org = _tenants(world)
    CustomerOrg.objects.filter(pk=org.pk).update(status="authorized")
    org.refresh_from_db()
    assert services.org_tokens_fetch(org=org, actor=ACTOR)


def _org_onboarding_start(world):
    from tenants import services

    app, _ = _tenants(world, no_org=True)
    services.org_onboarding_start(
        app=app, webex_org_id=world.org_id, name="Globex", region="us", actor=ACTOR
    )


def _org_onboarding_tokens_fetch(world):
    from tenants import services

    app, _ = _tenants(world, no_org=True)
    org = services.org_onboarding_start(
        app=app, webex_org_id=world.org_id, name="Globex", region="us", actor=ACTOR
    )
    assert services.org_onboarding_tokens_fetch(org=org, actor=ACTOR).status == "active"


def _org_deauthorized(world):
    from tenants import services

    app, org = _tenants(world)
    services.org_deauthorized(app=app, webex_org_id=org.webex_org_id, actor=ACTOR)


def _org_tokens_refresh(world):
    from tenants import services

    _, org = _tenants(world)
    assert services.org_tokens_refresh(org_id=org.pk, force=True, actor=ACTOR).outcome == (
        "refreshed"
    )


def _serviceapp_reconcile(world):
    from tenants import services

    app, _ = _tenants(world, no_org=True)
    services.serviceapp_reconcile(app=app, actor=ACTOR)


def _org_offboard_start(world):
    from tenants import services

    _, org = _tenants(world)
    services.org_offboard_start(
        org=org, confirm_name="Globex", mode="delete", reason="test run", actor=ACTOR
    )


def _offboarding(world, mode="delete"):
    """An org with one data source, being offboarded."""
    from tenants import services

    ds = _datasource(world)
    return services.org_offboard_start(
        org=ds.org, confirm_name="Globex", mode=mode, reason="test run", actor=ACTOR
    )


def _org_offboard_run(world):
    from operations.offboarding import org_offboard_run

    org_offboard_run(org=_offboarding(world), actor=ACTOR)


def _datasource_offboard(world):
    from datasources.models import DataSource
    from datasources.services import datasource_offboard

    org = _offboarding(world, mode="disable")
    ds = DataSource.objects.get(org=org)
    datasource_offboard(ds=ds, mode="disable", reason="test run", actor=ACTOR)


def _datasources_offboard_org(world):
    from datasources.services import datasources_offboard_org

    datasources_offboard_org(org=_offboarding(world), actor=ACTOR)


def _datasources_close_org(world):
    from datasources.services import datasources_close_org

    datasources_close_org(org=_offboarding(world, mode="disable"), why="test", actor=ACTOR)


def _org_tokens_destroy(world):
    from tenants.services import org_tokens_destroy

    org_tokens_destroy(org=_offboarding(world), actor=ACTOR)


def _org_offboard_finish(world):
    from tenants.services import org_offboard_finish

    org_offboard_finish(org=_offboarding(world), actor=ACTOR)


def _datasource(world):
    from datasources.services import datasource_register

    _, org = _tenants(world)
    return datasource_register(
        org=org,
        schema_id=SCHEMA,
        url="https://rx.byods.example.com/x",
        audience="a",
        subject="s",
        token_lifetime_minutes=60,
        actor=ACTOR,
    )


def _datasource_register(world):
    _datasource(world)


def _datasource_update(world):
    from datasources.services import datasource_update

    ds = _datasource(world)
    datasource_update(
        ds=ds,
        schema_id=SCHEMA,
        url=ds.url,
        audience="b",
        subject="s",
        token_lifetime_minutes=30,
        actor=ACTOR,
    )


def _datasource_disable(world):
    from datasources.services import datasource_disable

    datasource_disable(ds=_datasource(world), message="maintenance", actor=ACTOR)


def _datasource_enable(world):
    from datasources.services import datasource_disable, datasource_enable

    ds = datasource_disable(ds=_datasource(world), message="maintenance", actor=ACTOR)
    datasource_enable(ds=ds, actor=ACTOR)


def _datasource_delete(world):
    from datasources.services import datasource_delete

    datasource_delete(ds=_datasource(world), reason="customer asked", actor=ACTOR)


def _maintenance(world, apply=False):
    import datetime as dt

    from django.utils import timezone

    from datasources.services import (
        datasource_apply_maintenance,
        datasource_schedule_maintenance,
    )

    start = timezone.now() + dt.timedelta(minutes=5)
    datasource_schedule_maintenance(
        ds=_datasource(world),
        disable_at=start,
        enable_at=start + dt.timedelta(hours=1),
        message="upgrade",
        actor=ACTOR,
    )
    if apply:
        datasource_apply_maintenance(now=start + dt.timedelta(minutes=1), actor=ACTOR)


def _datasource_rotate(world):
    from datasources.services import datasource_rotate

    assert datasource_rotate(ds_id=_datasource(world).pk, force=True, actor=ACTOR).outcome == (
        "rotated"
    )


def _datasources_rotate_many(world):
    from datasources.services import datasources_rotate_many

    outcomes, errors = datasources_rotate_many([_datasource(world).pk], force=True, actor=ACTOR)
    assert outcomes == {"rotated": 1} and not errors


def _drift(world):
    from datasources.services import datasources_reconcile_org
    from tenants.models import OrgToken
    from webex.client import WebexClient

    ds = _datasource(world)
    WebexClient(api_base=world.api_base).delete_datasource(
        access_token=OrgToken.objects.get(org=ds.org).access_token, datasource_id=ds.webex_id
    )
    datasources_reconcile_org(org=ds.org, actor=ACTOR)
    return ds


def _drift_resolve(world):
    from datasources.models import DriftFinding
    from datasources.services import drift_resolve

    _drift(world)
    drift_resolve(finding=DriftFinding.objects.get(), resolution="adopt", actor=ACTOR)


def _apikey(world):
    from accounts.services import apikey_create

    return apikey_create(name="pipeline", role=Role.OPERATOR, actor=ACTOR)[0]


def _apikey_revoke(world):
    from accounts.services import apikey_revoke

    apikey_revoke(api_key=_apikey(world), reason="rotated out", actor=ACTOR)


def _bulk(world, run=False):
    from operations import services
    from operations.selectors import Selection

    ds = _datasource(world)
    op = services.bulk_operation_start(
        kind="rotate", selection=Selection("datasource", (ds.public_id,)), actor=ACTOR
    )
    if run:
        assert services.bulk_operation_run(operation_id=op.pk) is False
    return op


def _bulk_retry(world):
    from operations import services

    op = _bulk(world, run=True)
    op.items.update(state="failed", reason="Webex call failed")  # as if Webex had refused
    op.refresh_from_db()
    services.bulk_operation_retry_failures(operation=op, actor=ACTOR)


def _alert(world):
    from alerts.services import alerts_evaluate
    from tenants.models import CustomerOrg

    _, org = _tenants(world)
    CustomerOrg.objects.filter(pk=org.pk).update(status="reauthorization_required")
    report = alerts_evaluate(actor=ACTOR)
    from alerts.models import Alert

    return Alert.objects.get(pk=report.opened[0])


def _incident(world):
    from alerts.services import alert_incident_raise

    _, org = _tenants(world)
    return alert_incident_raise(org=org, summary="Webex outage", user=None, actor=ACTOR)


def _alert_acknowledge(world):
    from django.contrib.auth import get_user_model

    from alerts.services import alert_acknowledge

    user = get_user_model().objects.create_user(username="ack@example.com")
    alert_acknowledge(alert=_alert(world), user=user, actor=ACTOR)


def _alert_snooze(world):
    import datetime as dt

    from django.utils import timezone

    from alerts.services import alert_snooze

    until = timezone.now() + dt.timedelta(hours=1)
    alert_snooze(alert=_alert(world), until=until, reason="Maintenance", user=None, actor=ACTOR)


def _alert_silence(world):
    from alerts.services import alert_silence

    alert_silence(alert=_alert(world), reason="Known issue", user=None, actor=ACTOR)


def _alert_wake(world):
    from alerts.services import alert_silence, alert_wake

    alert = _alert(world)
    alert_silence(alert=alert, reason="Known issue", user=None, actor=ACTOR)
    alert_wake(alert=alert, user=None, actor=ACTOR)


def _alert_resolve(world):
    from alerts.services import alert_resolve

    alert_resolve(alert=_incident(world), user=None, actor=ACTOR)


def _channel():
    from alerts.services import alertchannel_create

    return alertchannel_create(
        team="Ops", email_recipients=["ops@example.com"], kinds=["incident"], actor=ACTOR
    )


def _alert_deliver(world):
    from alerts.services import alert_deliver

    _channel()
    assert alert_deliver(alert=_incident(world), event="opened", actor=ACTOR).sent == 1


def _alerts_watch_liveness(world):
    """No heartbeat at all: both the scheduler and the workers are silent."""
    from alerts.services import alerts_watch_liveness

    assert len(alerts_watch_liveness(actor=ACTOR).opened) == 2


def _alerts_deliver_inline(world):
    from alerts.services import alerts_deliver_inline

    _channel()
    alert = _incident(world)
    alerts_deliver_inline(opened=[alert.pk], resolved=[], actor=ACTOR)


def _alertchannel_update(world):
    from alerts.services import alertchannel_update

    alertchannel_update(
        channel=_channel(),
        team="Ops 2",
        email_recipients=["a@example.com"],
        kinds=["incident"],
        actor=ACTOR,
    )


def _alertchannel_delete(world):
    from alerts.services import alertchannel_delete

    alertchannel_delete(channel=_channel(), actor=ACTOR)


def _alertchannel_test(world):
    from alerts.services import alertchannel_test

    alertchannel_test(channel=_channel(), actor=ACTOR)  # e-mail only: the test mail outbox


# service -> (how to call it with valid input, the action it must record)
CASES = {
    "accounts.services.apikey_create": (_apikey, Action.APIKEY_CREATED),
    "accounts.services.apikey_revoke": (_apikey_revoke, Action.APIKEY_REVOKED),
    "accounts.services.staff_user_create": (_staff_user_create, Action.STAFF_CREATED),
    "accounts.services.staff_sign_in_lock": (_staff_sign_in_lock, Action.STAFF_SIGN_IN_LOCKED),
    "accounts.services.staff_sso_sign_in": (_staff_sso_sign_in, Action.STAFF_CREATED),
    "accounts.services.mfa_enrol_confirm": (
        lambda world: _enrolled(_person()),
        Action.STAFF_MFA_ENROLLED,
    ),
    "accounts.services.mfa_verify": (_mfa_verify, Action.STAFF_SIGNED_IN_RECOVERY_CODE),
    "accounts.services.staff_role_change": (
        _staff_action("staff_role_change", role="auditor"),
        Action.STAFF_ROLE_CHANGED,
    ),
    "accounts.services.staff_deactivate": (
        _staff_action("staff_deactivate"),
        Action.STAFF_DEACTIVATED,
    ),
    "accounts.services.staff_reactivate": (_staff_reactivate, Action.STAFF_REACTIVATED),
    "accounts.services.staff_unlock": (_staff_action("staff_unlock"), Action.STAFF_UNLOCKED),
    "accounts.services.staff_mfa_reset": (_staff_action("staff_mfa_reset"), Action.STAFF_MFA_RESET),
    "accounts.services.staff_sessions_revoke": (
        _staff_action("staff_sessions_revoke"),
        Action.STAFF_SESSIONS_REVOKED,
    ),
    "accounts.services.staff_invite": (_staff_invite, Action.STAFF_INVITED),
    "accounts.services.staff_invite_accept": (
        _staff_invite_accept,
        Action.STAFF_INVITE_ACCEPTED,
    ),
    "accounts.services.staff_access_review_exported": (
        _access_review_exported,
        Action.STAFF_ACCESS_REVIEW_EXPORTED,
    ),
    "tenants.services.service_apps.serviceapp_create": (
        _serviceapp_create,
        Action.SERVICEAPP_CREATED,
    ),
    "tenants.services.service_apps.serviceapp_register_webhooks": (
        _serviceapp_register_webhooks,
        Action.WEBHOOK_REGISTERED,
    ),
    "tenants.services.service_apps.serviceapp_reconcile": (
        _serviceapp_reconcile,
        Action.ORG_RECONCILED,
    ),
    "tenants.services.service_apps.serviceapp_integration_token_refresh": (
        _integration_refresh,
        Action.SERVICEAPP_TOKEN_REFRESHED,
    ),
    "tenants.services.onboarding.org_onboard": (_org_onboard, Action.ORG_ONBOARDED),
    "tenants.services.onboarding.org_tokens_paste": (_org_tokens_paste, Action.ORG_TOKENS_FETCHED),
    "tenants.services.onboarding.org_onboarding_start": (
        _org_onboarding_start,
        Action.ORG_ONBOARDING_STARTED,
    ),
    "tenants.services.onboarding.org_onboarding_tokens_fetch": (
        _org_onboarding_tokens_fetch,
        Action.ORG_ONBOARDED,
    ),
    "tenants.services.authorization.org_authorized": (_org_authorized, Action.ORG_AUTHORIZED),
    "tenants.services.authorization.org_tokens_fetch": (
        _org_tokens_fetch,
        Action.ORG_TOKENS_FETCHED,
    ),
    "tenants.services.authorization.org_deauthorized": (_org_deauthorized, Action.ORG_DEAUTHORIZED),
    "tenants.services.tokens.org_tokens_refresh": (
        _org_tokens_refresh,
        Action.ORG_TOKENS_REFRESHED,
    ),
    "tenants.services.offboarding.org_offboard_start": (
        _org_offboard_start,
        Action.ORG_OFFBOARDING_STARTED,
    ),
    "operations.offboarding.org_offboard_run": (_org_offboard_run, Action.ORG_OFFBOARDED),
    "tenants.services.offboarding.org_offboard_finish": (
        _org_offboard_finish,
        Action.ORG_OFFBOARDED,
    ),
    "tenants.services.tokens.org_tokens_destroy": (
        _org_tokens_destroy,
        Action.ORG_TOKENS_DESTROYED,
    ),
    "datasources.services.offboarding.datasource_offboard": (
        _datasource_offboard,
        Action.DATASOURCE_DISABLED,
    ),
    "datasources.services.offboarding.datasources_offboard_org": (
        _datasources_offboard_org,
        Action.DATASOURCE_DELETED,
    ),
    "datasources.services.offboarding.datasources_close_org": (
        _datasources_close_org,
        Action.DATASOURCE_DISABLED,
    ),
    "datasources.services.lifecycle.datasource_register": (
        _datasource_register,
        Action.DATASOURCE_REGISTERED,
    ),
    "datasources.services.lifecycle.datasource_update": (
        _datasource_update,
        Action.DATASOURCE_UPDATED,
    ),
    "datasources.services.lifecycle.datasource_disable": (
        _datasource_disable,
        Action.DATASOURCE_DISABLED,
    ),
    "datasources.services.lifecycle.datasource_enable": (
        _datasource_enable,
        Action.DATASOURCE_ENABLED,
    ),
    "datasources.services.lifecycle.datasource_delete": (
        _datasource_delete,
        Action.DATASOURCE_DELETED,
    ),
    "datasources.services.lifecycle.datasource_schedule_maintenance": (
        _maintenance,
        Action.DATASOURCE_MAINTENANCE_SCHEDULED,
    ),
    "datasources.services.lifecycle.datasource_apply_maintenance": (
        lambda world: _maintenance(world, apply=True),
        Action.DATASOURCE_DISABLED,
    ),
    "datasources.services.rotation.datasource_rotate": (
        _datasource_rotate,
        Action.DATASOURCE_ROTATED,
    ),
    "datasources.services.rotation.datasources_rotate_many": (
        _datasources_rotate_many,
        Action.DATASOURCE_ROTATED,
    ),
    "datasources.services.drift.datasources_reconcile_org": (_drift, Action.DATASOURCE_DRIFT_FOUND),
    "datasources.services.drift.drift_resolve": (_drift_resolve, Action.DATASOURCE_ADOPTED),
    "operations.services.bulk_operation_start": (_bulk, Action.BULK_STARTED),
    "operations.services.bulk_operation_run": (
        lambda world: _bulk(world, run=True),
        Action.BULK_FINISHED,
    ),
    "operations.services.bulk_operation_retry_failures": (_bulk_retry, Action.BULK_STARTED),
    "alerts.services.evaluation.alerts_evaluate": (_alert, Action.ALERT_OPENED),
    "alerts.services.actions.alert_acknowledge": (_alert_acknowledge, Action.ALERT_ACKNOWLEDGED),
    "alerts.services.actions.alert_incident_raise": (_incident, Action.INCIDENT_RAISED),
    "alerts.services.actions.alert_resolve": (_alert_resolve, Action.ALERT_RESOLVED),
    "alerts.services.actions.alert_snooze": (_alert_snooze, Action.ALERT_SNOOZED),
    "alerts.services.actions.alert_silence": (_alert_silence, Action.ALERT_SILENCED),
    "alerts.services.actions.alert_wake": (_alert_wake, Action.ALERT_WOKEN),
    "alerts.services.delivery.alert_deliver": (_alert_deliver, Action.ALERT_NOTIFIED),
    "alerts.services.channels.alertchannel_create": (
        lambda world: _channel(),
        Action.ALERTCHANNEL_CREATED,
    ),
    "alerts.services.channels.alertchannel_update": (
        _alertchannel_update,
        Action.ALERTCHANNEL_UPDATED,
    ),
    "alerts.services.channels.alertchannel_delete": (
        _alertchannel_delete,
        Action.ALERTCHANNEL_DELETED,
    ),
    "alerts.services.delivery.alertchannel_test": (_alertchannel_test, Action.ALERTCHANNEL_TESTED),
    "alerts.services.evaluation.alerts_watch_liveness": (
        _alerts_watch_liveness,
        Action.ALERT_OPENED,
    ),
    "alerts.services.delivery.alerts_deliver_inline": (
        _alerts_deliver_inline,
        Action.ALERT_NOTIFIED,
    ),
}


def discover_services() -> set[str]:
    found = set()
    for app in APPS:
        try:
            module = importlib.import_module(f"{app}.services")
        except ModuleNotFoundError:
            continue
        modules = [module]
        if hasattr(module, "__path__"):  # a services/ package
            modules += [
                importlib.import_module(f"{module.__name__}.{info.name}")
                for info in pkgutil.iter_modules(module.__path__)
            ]
        for mod in modules:
            for name, obj in inspect.getmembers(mod, inspect.isfunction):
                if not name.startswith("_") and obj.__module__ == mod.__name__:
                    found.add(f"{mod.__name__}.{name}")
    return found


def test_every_service_is_covered_or_exempt():
    missing = discover_services() - set(CASES) - set(EXEMPT)
    assert not missing, f"services without an audit test case: {sorted(missing)}"


@pytest.mark.django_db
@pytest.mark.parametrize("service", sorted(CASES))
def test_the_service_records_its_event(service, webex_world, settings):
    settings.WEBEX_REGIONS = {
        r: {"api": webex_world.api_base, "idbroker": webex_world.idbroker_base}
        for r in ("us", "eu", "integration")
    }
    call, action = CASES[service]
    call(webex_world)
    assert AuditEvent.objects.filter(action=action, outcome="ok").exists()
    assert not AuditEvent.objects.filter(outcome="failed").exists()
