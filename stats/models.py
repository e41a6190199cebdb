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


class RotationOutcomeTotal(models.Model):
    """How many rotations ended with `outcome` in the hours folded out of RotationOutcomeHour
    (older than eight days): with the hourly rows left, the `byods_rotations_total` counter."""

    outcome = models.CharField(max_length=20, unique=True)
    count = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.outcome}: {self.count}"


class ServiceHeartbeat(models.Model):
    """The last sign of life of one worker, scheduler or web process, written every few seconds
    by the process itself; every web process reads the same rows (deep health, /metrics, the
    dashboard). Each row also says which encryption keys the process holds, so a key is made
    primary only once every process can decrypt with it (rotate_encryption_keys)."""

    class Role(models.TextChoices):
        WORKER = "worker", "Worker"
        SCHEDULER = "scheduler", "Scheduler"
        WEB = "web", "Web"

    role = models.CharField(max_length=20, choices=Role.choices)
    name = models.CharField(max_length=200)  # celery@host for a worker, beat@host:pid
    pid = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    # Schedulers only: whether this one held the lease (sent the schedule's tasks) at its last
    # beat; a standby beats too, so its death is seen before it is needed.
    acting = models.BooleanField(default=False)
    # The process's key ring at its last beat: every key id it can decrypt with, and the one it
    # encrypts with (ids only, never keys).
    key_ids = models.JSONField(default=list, blank=True)
    primary_key_id = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["role", "name"], name="heartbeat_role_name_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.role} {self.name} at {self.last_seen_at:%H:%M:%S}"


class SchedulerLease(models.Model):
    """Which scheduler process may send the beat schedule's tasks, and until when.

    Every scheduler renews or takes it with one conditional UPDATE (byods_portal/scheduler.py);
    the one that holds it acts, the others stand by and take over once it lapses.
    """

    name = models.CharField(max_length=50, unique=True)
    holder = models.CharField(max_length=200)
    until = models.DateTimeField()
    acquired_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name}: {self.holder} until {self.until:%H:%M:%S}"


class WebexCallCount(models.Model):
    """Calls to Webex ever made, per endpoint and status (`byods_webex_requests_total`)."""

    endpoint = models.CharField(max_length=200)
    status = models.CharField(max_length=20)
    count = models.PositiveBigIntegerField(default=0)
    seconds = models.FloatField(default=0.0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "status"], name="webex_call_count_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.endpoint} {self.status}: {self.count}"


class WebexLatencyBucket(models.Model):
    """Calls to Webex per endpoint whose latency fell in bucket `bucket` of
    `webex.metrics.BUCKETS` (the last index is +Inf); not cumulative."""

    endpoint = models.CharField(max_length=200)
    bucket = models.PositiveSmallIntegerField()
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "bucket"], name="webex_latency_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.endpoint} bucket {self.bucket}: {self.count}"


class WebexCallMinute(models.Model):
    """Calls to Webex in the minute starting at `minute`: the deep health check's error share
    over the last five minutes and its "last successful call". Rows older than a day go."""

    minute = models.DateTimeField(unique=True)
    ok = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    last_ok_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.minute:%H:%M} ok={self.ok} failed={self.failed}"
