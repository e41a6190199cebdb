from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from audit.checkpoints import CheckpointError, checkpoint_key, checkpoint_latest, checkpoint_verify
from audit.selectors import audit_verify_chain


class Command(BaseCommand):
    help = (
        "Walk the audit hash chain and report the first broken link, then check the chain "
        "against the latest signed checkpoint (exit 1 if either fails)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--checkpoint-file",
            default=None,
            help="JSON-lines file of signed checkpoints (default: PORTAL_AUDIT_CHECKPOINT_PATH; "
            "with neither, no checkpoint is checked)",
        )

    def handle(self, *args, checkpoint_file: str | None = None, **options):
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
        path = checkpoint_file or settings.PORTAL_AUDIT_CHECKPOINT_PATH
        if not path:
            self.stdout.write("no checkpoint file configured: no checkpoint was checked")
            return
        try:
            checkpoint = checkpoint_latest(Path(path))
            checkpoint_verify(checkpoint, key=checkpoint_key())
        except CheckpointError as exc:
            raise CommandError(f"audit chain FAILS its checkpoint: {exc}") from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"checkpoint of {checkpoint.at} verified: signature valid, event "
                f"#{checkpoint.seq} still hashes to {checkpoint.head}"
            )
        )
