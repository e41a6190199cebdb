"""What people do with alerts: acknowledge, snooze, silence or wake one, raise and resolve
incidents."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.context import Actor
from audit.vocabulary import Action
from datasources.models import DataSource
from tenants.models import CustomerOrg

from ..models import SEVERITY, Alert, Kind, Quiet
from ._common import _audit


@transaction.atomic
def alert_acknowledge(*, alert: Alert, user, actor: Actor | None = None) -> Alert:
    """Record that `user` (or, with `user=None`, the API key named by `actor`) is on it.
    Acknowledging twice keeps the first acknowledgement."""
    if user is None and actor is None:
        raise ValueError("alert_acknowledge needs the user or the actor who acknowledges")
    alert = (
        Alert.objects.select_for_update(of=("self",))
        .select_related("org", "service_app")
        .get(pk=alert.pk)
    )
    if alert.resolved_at is not None:
        raise ValidationError({"alert": "This alert is already resolved; nothing to acknowledge."})
    if alert.acknowledged_at is not None:
        return alert
    actor = actor or Actor.user(user)
    who = user.get_username() if user is not None else actor.label
    alert.acknowledged_by = user
    alert.acknowledged_by_label = who[:150]
    alert.acknowledged_at = timezone.now()
    alert.full_clean()
    alert.save(update_fields=["acknowledged_by", "acknowledged_by_label", "acknowledged_at"])
    _audit(alert, Action.ALERT_ACKNOWLEDGED, f"{who} acknowledged: {alert.summary}", actor)
    return alert


@transaction.atomic
def alert_incident_raise(
    *,
    org: CustomerOrg,
    summary: str,
    user,
    datasource: DataSource | None = None,
    actor: Actor | None = None,
) -> Alert:
    """An operator's manual alert. Each incident is its own episode until resolved by hand."""
    summary = (summary or "").strip()
    if len(summary) < 5:
        raise ValidationError({"summary": "Describe the incident in at least 5 characters."})
    if datasource is not None and datasource.org_id != org.pk:
        raise ValidationError({"datasource": "The data source must belong to the chosen org."})
    alert = Alert(
        kind=Kind.INCIDENT,
        org=org,
        datasource=datasource,
        owner_id=org.owner_id,
        summary=summary[:500],
        severity=SEVERITY[Kind.INCIDENT],
    )
    alert.dedup_key = f"{Kind.INCIDENT}:{alert.public_id}"
    alert.full_clean()
    alert.save()
    _audit(
        alert,
        Action.INCIDENT_RAISED,
        f"Incident raised for {org.name}: {alert.summary}",
        actor or Actor.user(user),
    )
    return alert


@transaction.atomic
def alert_resolve(*, alert: Alert, user, actor: Actor | None = None) -> Alert:
    """Close an incident by hand (derived alerts clear themselves when their condition does)."""
    alert = (
        Alert.objects.select_for_update(of=("self",))
        .select_related("org", "service_app")
        .get(pk=alert.pk)
    )
    if alert.kind != Kind.INCIDENT:
        raise ValidationError(
            {"alert": "Only incidents are resolved by hand; this alert clears on its own."}
        )
    if alert.resolved_at is not None:
        return alert
    alert.resolved_at = timezone.now()
    alert.save(update_fields=["resolved_at"])
    actor = actor or Actor.user(user)
    who = user.get_username() if user is not None else actor.label
    _audit(alert, Action.ALERT_RESOLVED, f"{who} resolved the incident: {alert.summary}", actor)
    return alert


# ------------------------------------------------------------------------- snooze, silence
QUIET_REASON_MIN = 5


def _quiet_target(alert: Alert) -> Alert:
    alert = (
        Alert.objects.select_for_update(of=("self",))
        .select_related("org", "service_app")
        .get(pk=alert.pk)
    )
    if alert.resolved_at is not None:
        raise ValidationError({"alert": "This alert is already resolved; nothing to quieten."})
    return alert


def _quiet(*, alert: Alert, mode: str, until, reason: str, user, actor: Actor | None, now) -> Alert:
    reason = (reason or "").strip()
    errors = {}
    if len(reason) < QUIET_REASON_MIN:
        errors["reason"] = f"Say why in at least {QUIET_REASON_MIN} characters (it is audited)."
    if mode == Quiet.SNOOZED and until is None:
        errors["until"] = "A snooze needs an end time."
    elif until is not None and until <= now:
        errors["until"] = "The end time must be in the future."
    if errors:
        raise ValidationError(errors)
    alert = _quiet_target(alert)
    actor = actor or Actor.user(user)
    who = user.get_username() if user is not None else actor.label
    alert.quiet, alert.quiet_until, alert.quiet_at = mode, until, now
    alert.quiet_reason, alert.quiet_by_label = reason[:500], who[:150]
    alert.full_clean()
    alert.save(update_fields=["quiet", "quiet_until", "quiet_at", "quiet_reason", "quiet_by_label"])
    until_words = f"until {until:%Y-%m-%d %H:%M} UTC" if until else "until resolved"
    _audit(
        alert,
        Action.ALERT_SNOOZED if mode == Quiet.SNOOZED else Action.ALERT_SILENCED,
        f"{who} {Quiet(mode).label.lower()} the alert {until_words}: {alert.summary}",
        actor,
        reason=reason,
        changes={"until": until.isoformat() if until else None},
    )
    return alert


@transaction.atomic
def alert_snooze(
    *, alert: Alert, until, reason: str, user, actor: Actor | None = None, now=None
) -> Alert:
    """Notify nobody about this alert until `until` (required), with a reason (audited).
    It still shows, greyed; it wakes up early if it escalates."""
    return _quiet(
        alert=alert,
        mode=Quiet.SNOOZED,
        until=until,
        reason=reason,
        user=user,
        actor=actor,
        now=now or timezone.now(),
    )


@transaction.atomic
def alert_silence(
    *, alert: Alert, until=None, reason: str, user, actor: Actor | None = None, now=None
) -> Alert:
    """As a snooze, but `until` may be None: silent until the alert resolves (or escalates)."""
    return _quiet(
        alert=alert,
        mode=Quiet.SILENCED,
        until=until,
        reason=reason,
        user=user,
        actor=actor,
        now=now or timezone.now(),
    )


@transaction.atomic
def alert_wake(*, alert: Alert, user, actor: Actor | None = None) -> Alert:
    """End a snooze or silence by hand (notices resume). Waking an awake alert changes
    nothing."""
    alert = _quiet_target(alert)
    if not alert.quiet:
        return alert
    actor = actor or Actor.user(user)
    who = user.get_username() if user is not None else actor.label
    was = Quiet(alert.quiet).label.lower()
    alert.quiet, alert.quiet_until, alert.quiet_at = "", None, None
    alert.quiet_reason = alert.quiet_by_label = ""
    alert.save(update_fields=["quiet", "quiet_until", "quiet_at", "quiet_reason", "quiet_by_label"])
    _audit(alert, Action.ALERT_WOKEN, f"{who} ended the {was} of: {alert.summary}", actor)
    return alert
