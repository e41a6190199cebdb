from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from audit.dbroles import RoleError, connect_as_owner, grant_runtime_role


class Command(BaseCommand):
    help = (
        "As the owner (DATABASE_OWNER_URL, else DATABASE_URL), after migrate: grant the portal's "
        "runtime role what it needs, with only SELECT/INSERT on the audit events and only "
        "SELECT on the chain head. Run again after every migrate."
    )

    def add_arguments(self, parser):
        parser.add_argument("role", help="the runtime role, e.g. byods_app")

    def handle(self, *args, role: str, **options):
        as_owner = connect_as_owner()
        try:
            with transaction.atomic():
                report = grant_runtime_role(role)
        except RoleError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"granted {role}: {report.tables} tables in schema {report.schema} "
                f"(append-only: {', '.join(report.append_only)}; read-only: "
                f"{', '.join(report.read_only)}), USAGE on {report.sequences} sequences"
                + ("" if as_owner else " [DATABASE_OWNER_URL unset: ran as DATABASE_URL]")
            )
        )
