from django.core.management.base import BaseCommand, CommandError

from audit.selectors import audit_verify_chain


class Command(BaseCommand):
    help = "Walk the audit hash chain and report the first broken link (exit 1 if any)."

    def handle(self, *args, **options):
        report = audit_verify_chain()
        if report.broken_at is not None:
            raise CommandError(
                f"audit chain BROKEN at event #{report.broken_at}: {report.problem} "
                f"({report.checked} events verified before it)"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"audit chain intact: {report.checked} events, head #{report.head_id} "
                f"sha256 {report.head_hash}"
            )
        )
