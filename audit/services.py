"""Recording audit events. `audit_record` is the only way an event is written."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from .context import Actor, correlation_id, current_actor
from .models import AuditChainHead, AuditEvent
from .redaction import json_stable, redact
from .vocabulary import DESTRUCTIVE, Action

logger = logging.getLogger(__name__)


class AuditError(Exception):
    """An audit event could not be recorded as asked (missing reason, no transaction)."""


def audit_record(
    *,
    action: Action,
    summary: str,
    actor: Actor | None = None,
    target_type: str = "",
    target_id: str | uuid.UUID = "",
    target_label: str = "",
    org_id: uuid.UUID | str | None = None,
    reason: str = "",
    changes: dict[str, Any] | None = None,
    outcome: str = AuditEvent.Outcome.OK,
    error: str = "",
    tracking_id: str = "",
) -> AuditEvent:
    """Append one event to the chain, inside the caller's transaction.

    Call it in the same `transaction.atomic` block as the change it describes, so the event
    exists if and only if the change committed. A failed Webex call, which changes nothing,
    is recorded in its own small transaction with `outcome="failed"`.
    """
    (event,) = _append(
        [
            _event(
                action=action,
                summary=summary,
                actor=actor,
                target_type=target_type,
                target_id=target_id,
                target_label=target_label,
                org_id=org_id,
                reason=reason,
                changes=changes,
                outcome=outcome,
                error=error,
                tracking_id=tracking_id,
            )
        ]
    )
    return event


def audit_record_many(entries: Sequence[dict[str, Any]]) -> list[AuditEvent]:
    """Append several events at once, in order, inside the caller's transaction: one lock of
    the chain head and one INSERT for all of them. Each entry takes `audit_record`'s keyword
    arguments. For a batch of changes made in one transaction (a batch of rotations)."""
    return _append([_event(**entry) for entry in entries]) if entries else []


def _event(
    *,
    action: Action,
    summary: str,
    actor: Actor | None = None,
    target_type: str = "",
    target_id: str | uuid.UUID = "",
    target_label: str = "",
    org_id: uuid.UUID | str | None = None,
    reason: str = "",
    changes: dict[str, Any] | None = None,
    outcome: str = AuditEvent.Outcome.OK,
    error: str = "",
    tracking_id: str = "",
) -> AuditEvent:
    """One event, checked and built but not yet in the chain."""
    if not connection.in_atomic_block:
        raise AuditError("audit_record must run inside the transaction of the change it records")
    if action in DESTRUCTIVE and outcome == AuditEvent.Outcome.OK and not reason.strip():
        raise AuditError(f"{action} is destructive and needs a reason")
    actor = actor or current_actor()
    if actor is None:
        raise AuditError("no actor: bind one (request middleware, task helper) or pass actor=")
    # Built before the head is locked: appends are serialized on the head's row lock, so the
    # less work done while holding it, the more writers the chain takes per second.
    return AuditEvent(
        actor_type=actor.type,
        actor=actor.label[:200],
        actor_id=actor.id,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        target_label=target_label[:200],
        org_id=uuid.UUID(str(org_id)) if org_id else None,
        summary=summary[:500],
        reason=reason,
        changes=json_stable(redact(changes or {})),
        outcome=outcome,
        error=error,
        tracking_id=tracking_id,
        correlation_id=correlation_id(),
    )


def _append(events: list[AuditEvent]) -> list[AuditEvent]:
    """Link `events` to the chain in order and insert them, under the head's row lock.

    On PostgreSQL the portal's runtime role cannot write the head (README, "The two database
    roles"): `audit_chain_head_lock()` locks and reads it as the owner, and the insert's trigger
    checks the links and advances it (migration 0008). SQLite has no roles: the head is
    locked and advanced here.
    """
    head = None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT last_hash FROM audit_chain_head_lock()")
            (last_hash,) = cursor.fetchone()
    else:
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(pk=1)
        last_hash = head.last_hash
    occurred_at = timezone.now()  # in chain order
    for event in events:
        event.occurred_at = occurred_at
        event.prev_hash = last_hash
        event.hash = last_hash = event.compute_hash()
    if len(events) == 1:
        events[0].save()
    else:
        AuditEvent.objects.bulk_create(events)
    if head is not None:
        head.last_event_id = events[-1].pk
        head.last_hash = last_hash
        head.save(update_fields=["last_event_id", "last_hash", "updated_at"])
    return events


def audit_record_failure(**kwargs: Any) -> AuditEvent:
    """Record a refused or failed attempt in its own transaction (nothing else changed)."""
    with transaction.atomic():
        return audit_record(outcome=AuditEvent.Outcome.FAILED, **kwargs)
