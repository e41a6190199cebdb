"""What people do with alerts: acknowledge one, raise and resolve incidents."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.context import Actor
from audit.vocabulary import Action
from datasources.models import DataSource
from tenants.models import CustomerOrg

from ..models import Alert, Kind
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
