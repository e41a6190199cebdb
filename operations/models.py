"""Bulk operations: one action (rotate, disable, enable, offboard) over many targets.

An operation owns one `BulkItem` per target, created up front with `bulk_create`, so progress
is a matter of counters and a crash leaves a list of pending items to resume from. The counters
on the operation are moved with `F()` in the transaction that settles each item.
"""

import uuid

from django.conf import settings
from django.db import models


class BulkOperation(models.Model):
    class Kind(models.TextChoices):
        ROTATE = "rotate", "Rotate now"
        DISABLE = "disable", "Disable"
        ENABLE = "enable", "Enable"
        OFFBOARD = "offboard", "Offboard"

    class TargetType(models.TextChoices):
        DATASOURCE = "datasource", "Data sources"
        ORG = "org", "Orgs"

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        RUNNING = "running", "Running"
        DONE = "done", "Done"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    target_type = models.CharField(max_length=16, choices=TargetType.choices)
    # What the action needs (the disable message, the offboarding mode and reason) and how the
    # targets were chosen (for the report). Never secrets: these are shown on the page.
    params = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    total = models.PositiveIntegerField(default=0)
    succeeded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # A work lease: the worker processing the operation holds it; a lost worker's lease
    # expires and the next run resumes with the pending items.
    lease_until = models.DateTimeField(null=True, blank=True)
    retry_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries"
    )
    # The correlation id of the request that started it: every run binds it, so the audit
    # events of all its items share it, whichever task (a chunk, a resume after a stall) ran.
    correlation_id = models.UUIDField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            # bulk_resume_stalled: unfinished operations whose lease ran out
            models.Index(
                fields=["lease_until"],
                name="bulkop_unfinished_idx",
                condition=~models.Q(state="done"),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=["rotate", "disable", "enable", "offboard"]),
                name="bulkop_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.total} {self.get_target_type_display().lower()}"

    @property
    def processed(self) -> int:
        return self.succeeded + self.failed + self.skipped

    @property
    def percent(self) -> int:
        return 100 if not self.total else int(100 * self.processed / self.total)


class BulkItem(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    operation = models.ForeignKey(BulkOperation, on_delete=models.CASCADE, related_name="items")
    target_public_id = models.UUIDField()
    target_label = models.CharField(max_length=200, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    reason = models.CharField(max_length=500, blank=True)
    # Write-ahead: set before the action is applied, so a resumed run can tell "applied but
    # not recorded" (the target already shows the change) from "never tried".
    started_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)  # runs that began applying it
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        indexes = [
            # the next chunk of pending items; the failures of the report
            models.Index(fields=["operation", "state", "id"], name="bulkitem_op_state_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["operation", "target_public_id"], name="bulkitem_one_per_target"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.target_label or self.target_public_id}: {self.get_state_display()}"
