"""The append-only, hash-chained audit trail.

Every state change in the portal writes one `AuditEvent` in the same transaction as the change.
Rows are never updated or deleted: the model refuses, and a database trigger (migration 0002,
on PostgreSQL and SQLite) rejects UPDATE and DELETE even from raw SQL. Each row carries the
SHA-256 of its own content and of the previous row (`prev_hash`), so `manage.py audit_verify`
can prove the sequence was not edited after the fact.
"""

import hashlib
import json
import uuid

from django.db import models
from django.utils import timezone

from .vocabulary import Action


class AppendOnlyError(Exception):
    """Raised when code tries to change or remove recorded audit events."""


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("audit events cannot be updated")

    def delete(self):
        raise AppendOnlyError("audit events cannot be deleted")

    def _raw_delete(self, using: str | None) -> int:
        """Django's fast path for cascades, which skips delete(): refused too."""
        raise AppendOnlyError("audit events cannot be deleted")


class AuditEvent(models.Model):
    class ActorType(models.TextChoices):
        USER = "user", "Staff user"
        API = "api", "API client"
        SYSTEM = "system", "System task"

    class Outcome(models.TextChoices):
        OK = "ok", "OK"
        FAILED = "failed", "Failed"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    occurred_at = models.DateTimeField(default=timezone.now, editable=False)
    actor_type = models.CharField(max_length=10, choices=ActorType.choices)
    # What reviewers read: an e-mail, "api:<key prefix>" or "system:<task name>". No foreign
    # key: the trail outlives users and orgs, and a cascade must never touch it.
    actor = models.CharField(max_length=200)
    actor_id = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=64, choices=Action.choices)
    target_type = models.CharField(max_length=40, blank=True)
    target_id = models.CharField(max_length=64, blank=True)  # the target's public id
    target_label = models.CharField(max_length=200, blank=True)
    org_id = models.UUIDField(null=True, blank=True)  # public UUID of the org concerned
    summary = models.CharField(max_length=500)
    reason = models.TextField(blank=True)
    changes = models.JSONField(default=dict, blank=True)  # before/after, secrets redacted
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.OK)
    error = models.TextField(blank=True)
    tracking_id = models.CharField(max_length=200, blank=True)  # Webex trackingId
    correlation_id = models.UUIDField(default=uuid.uuid4)
    prev_hash = models.CharField(max_length=64, editable=False)
    hash = models.CharField(max_length=64, editable=False, unique=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The log's filters all sort newest first (by id) and page by id (keyset), so each
            # index ends in id: a filtered page reads a short index range at any table size.
            models.Index(fields=["org_id", "-id"], name="audit_org_idx"),
            # An org's timeline narrowed to one action ("every disable for Acme").
            models.Index(fields=["org_id", "action", "-id"], name="audit_org_action_idx"),
            models.Index(fields=["target_type", "target_id", "-id"], name="audit_target_idx"),
            models.Index(fields=["action", "-id"], name="audit_action_idx"),
            models.Index(fields=["actor", "-id"], name="audit_actor_idx"),
            models.Index(fields=["occurred_at", "id"], name="audit_time_idx"),
            models.Index(fields=["correlation_id"], name="audit_correlation_idx"),
            # The header search finds an event by the Webex trackingId staff paste from a message.
            models.Index(fields=["tracking_id"], name="audit_tracking_idx"),
            # The "failures only" view: failed events are few, so a partial index stays small.
            models.Index(
                fields=["-id"],
                name="audit_failed_idx",
                condition=models.Q(outcome="failed"),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(outcome__in=["ok", "failed"]), name="audit_outcome_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None or not self._state.adding:
            raise AppendOnlyError("audit events cannot be updated")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("audit events cannot be deleted")

    # --- the hash chain -----------------------------------------------------------------
    def content(self) -> dict:
        """Everything the hash covers, in a stable JSON-ready form."""
        return {
            "public_id": str(self.public_id),
            "occurred_at": self.occurred_at.isoformat(),
            "actor_type": self.actor_type,
            "actor": self.actor,
            "actor_id": self.actor_id,
            "action": self.action,
            "target_type": self.target_type,
            "target_id": self.target_id,
            "target_label": self.target_label,
            "org_id": str(self.org_id) if self.org_id else "",
            "summary": self.summary,
            "reason": self.reason,
            "changes": self.changes,
            "outcome": self.outcome,
            "error": self.error,
            "tracking_id": self.tracking_id,
            "correlation_id": str(self.correlation_id),
        }

    def compute_hash(self) -> str:
        canonical = json.dumps(self.content(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(f"{self.prev_hash}\n{canonical}".encode()).hexdigest()


class AuditChainHead(models.Model):
    """One row: the hash of the newest event. Writers lock it to append in order.

    Locking serializes audit writes; each holds the lock only until its transaction commits,
    which in this portal is milliseconds (network calls happen outside transactions).
    """

    GENESIS = "0" * 64

    last_event_id = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default=GENESIS)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"audit chain head #{self.last_event_id}"
