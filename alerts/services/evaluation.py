"""Derived alerts: the conditions true right now, and the one writer that opens, touches and
resolves alert episodes to match them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from audit.context import Actor
from audit.vocabulary import Action
from core import policy as rules
from datasources.models import DataSource, DriftFinding, stops_flow
from datasources.selectors import health_conditions
from stats.liveness import liveness
from tenants.models import CustomerOrg
from tenants.selectors import offboardings_stalled, serviceapps_integration_failing

from ..models import SEVERITY_RANK, Alert, Kind, Severity
from ._common import _audit

# Watched by the processes themselves (`alerts_watch_liveness`): a worker's heartbeat sees a
# silent scheduler, a scheduler's tick sees that no worker is alive. The minute's evaluation
# cannot: it runs only when both are.
LIVENESS = (Kind.SCHEDULER_SILENT, Kind.NO_WORKER)
DERIVED = tuple(k for k in Kind.values if k != Kind.INCIDENT and k not in LIVENESS)


@dataclass(frozen=True)
class Condition:
    kind: str
    org_id: int | None
    datasource_id: int | None
    summary: str  # a short title (history, search); the headline is computed when shown
    service_app_id: int | None = None
    severity: str = Severity.WARNING


@dataclass
class EvaluationReport:
    opened: list[int] = field(default_factory=list)
    touched: int = 0
    resolved: list[int] = field(default_factory=list)
    escalated: list[int] = field(default_factory=list)


# A rotation that fails with plenty of time left is retried by itself: an alert only once it
# failed this many times in a row (and "token at risk" opens anyway when the deadline nears).
ROTATION_FAILING_AFTER = 3
# An org access token whose lifetime cannot be read (no refresh recorded) counts as Webex's.
ORG_TOKEN_LIFETIME = dt.timedelta(days=14)


def _by_deadline(expires: dt.datetime | None, now: dt.datetime) -> str:
    """At risk: warning; lapsed (or no expiry known): critical."""
    return Severity.CRITICAL if expires is None or expires <= now else Severity.WARNING


def _org_token_at_risk(token, now: dt.datetime) -> bool:
    expires = token.access_expires_at
    if expires is None:
        return False
    issued = token.last_refreshed_at or token.obtained_at
    lifetime = expires - issued if issued and issued < expires else ORG_TOKEN_LIFETIME
    return expires - now < rules.at_risk_window_for(lifetime)


def _org_conditions(now: dt.datetime) -> dict[str, Condition]:
    """Orgs that must reauthorize, and active orgs whose access token is at risk or lapsed
    (a refresh that failed once with days left is retried by itself: no alert)."""
    found: dict[str, Condition] = {}
    horizon = now + rules.at_risk_window_for(dt.timedelta(days=90))
    orgs = CustomerOrg.objects.select_related("token").filter(
        Q(status=CustomerOrg.Status.REAUTHORIZATION_REQUIRED)
        | Q(status=CustomerOrg.Status.ACTIVE, token__access_expires_at__lt=horizon)
    )
    for org in orgs:
        token = getattr(org, "token", None)
        expires = token.access_expires_at if token else None
        if org.status == CustomerOrg.Status.REAUTHORIZATION_REQUIRED:
            found[f"{Kind.ORG_REAUTHORIZATION}:org:{org.pk}"] = Condition(
                Kind.ORG_REAUTHORIZATION,
                org.pk,
                None,
                f"{org.name} must reauthorize the Service App",
                severity=_by_deadline(expires, now),
            )
        elif token is not None and _org_token_at_risk(token, now):
            found[f"{Kind.TOKEN_AT_RISK}:org:{org.pk}"] = Condition(
                Kind.TOKEN_AT_RISK,
                org.pk,
                None,
                f"Access token of {org.name} at risk",
                severity=_by_deadline(expires, now),
            )
    return found


def _datasource_conditions(now: dt.datetime) -> dict[str, Condition]:
    """Data sources whose JWS is at risk or lapsed, and those whose rotation keeps failing."""
    found: dict[str, Condition] = {}
    health = health_conditions(now)
    columns = ("pk", "org_id", "org__name", "url", "token_expires_at")
    alive = DataSource.objects.filter(deleted_at__isnull=True)
    for pk, org_id, org_name, url, expires in alive.filter(
        health["at_risk"] | health["expired"]
    ).values_list(*columns):
        found[f"{Kind.TOKEN_AT_RISK}:ds:{pk}"] = Condition(
            Kind.TOKEN_AT_RISK,
            org_id,
            pk,
            f"JWS at risk: {org_name} – {url}",
            severity=_by_deadline(expires, now),
        )
    failing = alive.filter(health["failing"], consecutive_failures__gte=ROTATION_FAILING_AFTER)
    for pk, org_id, org_name, url, _ in failing.values_list(*columns):
        found[f"{Kind.ROTATION_FAILING}:ds:{pk}"] = Condition(
            Kind.ROTATION_FAILING, org_id, pk, f"Rotation failing: {org_name} – {url}"
        )
    return found


def _clock_skew_conditions() -> dict[str, Condition]:
    """Data sources whose last JWS expiry from Webex was out of bounds (clock skew): the
    flag the rotation stores, with its sentence; it clears with the next sane expiry."""
    flagged = DataSource.objects.filter(deleted_at__isnull=True, expiry_skew_since__isnull=False)
    columns = ("pk", "org_id", "org__name", "url", "expiry_skew_detail")
    return {
        f"{Kind.CLOCK_SKEW}:ds:{pk}": Condition(
            Kind.CLOCK_SKEW, org_id, pk, f"{org_name} – {url}: {detail}"[:500]
        )
        for pk, org_id, org_name, url, detail in flagged.values_list(*columns)
    }


def _drift_conditions() -> dict[str, Condition]:
    """One condition per org with open drift findings: critical when one of them stops a live
    data source's data (disabled or changed at Webex), else a warning."""
    drift = (
        DriftFinding.objects.filter(resolved_at__isnull=True)
        .values_list("org_id", "org__name", "details", "datasource__status")
        .order_by("org_id")
    )
    orgs: dict[int, tuple[str, str]] = {}
    for org_id, org_name, details, ds_status in drift:
        stopped = ds_status == DataSource.Status.ACTIVE and bool(stops_flow(details))
        worst = orgs.get(org_id, (org_name, Severity.WARNING))[1]
        orgs[org_id] = (org_name, Severity.CRITICAL if stopped else worst)
    return {
        f"{Kind.DRIFT_FOUND}:org:{org_id}": Condition(
            Kind.DRIFT_FOUND,
            org_id,
            None,
            f"Drift found for {org_name}: the portal and Webex disagree",
            severity=severity,
        )
        for org_id, (org_name, severity) in orgs.items()
    }


def _service_app_conditions(now: dt.datetime) -> dict[str, Condition]:
    """Service Apps whose integration token (which fetches every org's tokens) fails to
    refresh: critical once it has lapsed."""
    return {
        f"{Kind.INTEGRATION_TOKEN_FAILING}:app:{app.pk}": Condition(
            Kind.INTEGRATION_TOKEN_FAILING,
            None,
            None,
            f"Integration token refresh failing: Service App {app.name}",
            service_app_id=app.pk,
            severity=Severity.CRITICAL
            if app.integration_token_expires_at is not None
            and app.integration_token_expires_at <= now
            else Severity.WARNING,
        )
        for app in serviceapps_integration_failing()
    }


def _conditions(now: dt.datetime) -> dict[str, Condition]:
    """dedup key -> condition, for everything that is wrong right now."""
    stalled = {
        f"{Kind.OFFBOARDING_STALLED}:org:{org.pk}": Condition(
            Kind.OFFBOARDING_STALLED, org.pk, None, f"Offboarding {org.name} is stuck: {left}"
        )
        for org, left in offboardings_stalled(now)
    }
    return (
        _org_conditions(now)
        | _datasource_conditions(now)
        | _clock_skew_conditions()
        | stalled
        | _drift_conditions()
        | _service_app_conditions(now)
    )


def alerts_evaluate(*, now: dt.datetime | None = None, actor: Actor | None = None):
    """Open, touch and resolve derived alerts so they match the current conditions.

    Returns an EvaluationReport with the ids of opened and resolved alerts (the caller queues
    their delivery). Incidents are raised and resolved by people, never here.
    """
    now = now or timezone.now()
    return _reconcile(
        _conditions(now), DERIVED, now=now, actor=actor or Actor.system("alerts.evaluate")
    )


def _liveness_conditions(now: dt.datetime) -> dict[str, Condition]:
    seen = liveness(now=now)
    found: dict[str, Condition] = {}
    if seen.scheduler_silent:
        last = seen.last_tick
        since = f"last tick {last:%Y-%m-%d %H:%M:%S} UTC" if last else "no tick ever recorded"
        found[f"{Kind.SCHEDULER_SILENT}"] = Condition(
            Kind.SCHEDULER_SILENT,
            None,
            None,
            severity=Severity.CRITICAL,
            summary=f"No scheduler has sent tasks for over "
            f"{settings.PORTAL_SCHEDULER_SILENT_SECONDS} s ({since}): rotations, refreshes "
            "and alert checks stop until one runs (celery beat, README 'Operating the portal')",
        )
    if seen.no_worker:
        last = seen.last_worker_beat
        since = f"last heartbeat {last:%Y-%m-%d %H:%M:%S} UTC" if last else "none ever seen"
        found[f"{Kind.NO_WORKER}"] = Condition(
            Kind.NO_WORKER,
            None,
            None,
            severity=Severity.CRITICAL,
            summary=f"No worker has beaten for over {settings.PORTAL_WORKER_SILENT_SECONDS} s "
            f"({since}): nothing rotates or refreshes until a Celery worker runs",
        )
    return found


def alerts_watch_liveness(
    *, now: dt.datetime | None = None, actor: Actor | None = None
) -> EvaluationReport:
    """Open or resolve the scheduler and worker alerts from the heartbeats. Called by the
    processes themselves (every worker heartbeat, every scheduler tick), so the alert opens
    while the other kind of process is down; two callers racing open one episode."""
    now = now or timezone.now()
    actor = actor or Actor.system("alerts.watch_liveness")
    try:
        return _reconcile(_liveness_conditions(now), LIVENESS, now=now, actor=actor)
    except IntegrityError:  # another process opened the same episode a moment ago
        return EvaluationReport()


@transaction.atomic
def _reconcile(
    current: dict[str, Condition], kinds: tuple[str, ...], *, now: dt.datetime, actor: Actor
) -> EvaluationReport:
    """Open an episode for each new condition of `kinds`, touch those that persist, resolve
    those that cleared."""
    open_alerts = {
        a.dedup_key: a
        for a in Alert.objects.select_for_update(of=("self",))
        .select_related("org", "service_app")
        .filter(resolved_at__isnull=True, kind__in=kinds)
    }
    report = EvaluationReport()
    owners = dict(
        CustomerOrg.objects.filter(
            pk__in={c.org_id for c in current.values() if c.org_id is not None}
        ).values_list("pk", "owner_id")
    )
    for key, cond in current.items():
        if key in open_alerts:
            continue
        alert = Alert(
            kind=cond.kind,
            dedup_key=key,
            org_id=cond.org_id,
            service_app_id=cond.service_app_id,
            datasource_id=cond.datasource_id,
            owner_id=owners.get(cond.org_id) if cond.org_id is not None else None,
            summary=cond.summary[:500],
            severity=cond.severity,
            opened_at=now,
            last_seen_at=now,
        )
        alert.full_clean()
        alert.save()
        _audit(alert, Action.ALERT_OPENED, f"Alert opened: {alert.summary}", actor)
        report.opened.append(alert.pk)
    persisting = [a.pk for key, a in open_alerts.items() if key in current]
    if persisting:
        report.touched = Alert.objects.filter(pk__in=persisting).update(last_seen_at=now)
    for key, alert in open_alerts.items():
        if (
            key in current
            and current[key].severity != alert.severity
            and _follow_severity(alert, current[key].severity, now=now, actor=actor)
        ):
            report.escalated.append(alert.pk)
    for key, alert in open_alerts.items():
        if key in current:
            continue
        alert.resolved_at = now
        alert.save(update_fields=["resolved_at"])
        _audit(alert, Action.ALERT_RESOLVED, f"Alert cleared: {alert.summary}", actor)
        report.resolved.append(alert.pk)
    return report


def _follow_severity(alert: Alert, severity: str, *, now: dt.datetime, actor: Actor) -> bool:
    """Move an open episode to the severity its condition has now. A rise is an escalation:
    recorded, it ends a snooze or silence (the alert wakes up) and is notified (the caller
    queues it); a fall is recorded quietly. Returns whether it escalated."""
    rises = SEVERITY_RANK[Severity(severity)] > SEVERITY_RANK[Severity(alert.severity)]
    before = alert.get_severity_display().lower()
    alert.severity = severity
    fields = ["severity"]
    if not rises:
        alert.save(update_fields=fields)
        return False
    woke = alert.is_quiet(now)
    alert.escalated_at, alert.escalation_notified_at = now, None
    fields += ["escalated_at", "escalation_notified_at"]
    if alert.quiet:
        alert.quiet, alert.quiet_until, alert.quiet_at = "", None, None
        alert.quiet_reason = alert.quiet_by_label = ""
        fields += ["quiet", "quiet_until", "quiet_at", "quiet_reason", "quiet_by_label"]
    alert.save(update_fields=fields)
    _audit(
        alert,
        Action.ALERT_ESCALATED,
        f"Alert escalated from {before} to {alert.get_severity_display().lower()}"
        + ("; it woke from its snooze or silence" if woke else "")
        + f": {alert.summary}",
        actor,
        changes={"severity": {"before": before, "after": severity}, "woke": woke},
    )
    return True
