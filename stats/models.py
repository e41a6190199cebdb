"""Small counter tables that pages read instead of scanning history.

The dashboard's "rotation outcomes per hour over 7 days" chart reads at most 7 x 24 x (number
of outcomes) rows from here, whatever the size of the audit trail.
"""

from django.db import models


class RotationOutcomeHour(models.Model):
    """How many rotations ended with `outcome` during the hour starting at `hour` (UTC)."""

    hour = models.DateTimeField()
    outcome = models.CharField(max_length=20)  # rotated | failed | rate_limited | missing
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            # The UPSERT in stats.counters.record_rotation_outcome conflicts on this pair; it
            # also serves the chart's range read (hour >= now - 7 days).
            models.UniqueConstraint(fields=["hour", "outcome"], name="rotation_hour_outcome_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}:00 {self.outcome}: {self.count}"
