"""`manage.py heartbeat_check worker|scheduler`: exit 0 when a process of that role has beaten
recently, 1 otherwise. For container health checks (docker-compose.yml), which then restart a
process that hangs without dying."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from stats.liveness import liveness


class Command(BaseCommand):
    help = "Exit 0 when a worker (or the acting scheduler) has written a fresh heartbeat."

    def add_arguments(self, parser) -> None:
        parser.add_argument("role", choices=["worker", "scheduler"])
        parser.add_argument(
            "--name",
            default="",
            help="Only this process (a worker's celery@host name, a beat@host:pid); "
            "default: any process of the role. A standby scheduler counts as alive.",
        )

    def handle(self, *args, role: str, name: str, **options) -> None:
        seen = liveness()
        if role == "worker":
            rows, limit = seen.workers, settings.PORTAL_WORKER_SILENT_SECONDS
        else:
            rows, limit = seen.schedulers, settings.PORTAL_SCHEDULER_SILENT_SECONDS
        fresh = [
            r
            for r in rows
            if (not name or r.name == name) and (seen.now - r.last_seen_at).total_seconds() <= limit
        ]
        if not fresh:
            who = name or f"any {role}"
            raise CommandError(f"no heartbeat from {who} in the last {limit} s")
        self.stdout.write(", ".join(f"{r.name} {r.last_seen_at:%H:%M:%S}" for r in fresh))
