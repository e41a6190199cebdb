"""`migrate`, run as the owner role when DATABASE_OWNER_URL is set (audit/dbroles.py).

Django's own command, with a step before and one after. Before: the default connection switches
to the owner, so the schema changes, the data migrations and the post-migrate signals all run as
the role that owns the tables. After: the runtime role of DATABASE_URL is granted what it needs
(`grant_runtime_role`), so a table a migration adds is never left out of the grants.
"""

from django.conf import settings
from django.core.management.commands.migrate import Command as DjangoMigrate
from django.db import DEFAULT_DB_ALIAS, transaction

from audit.dbroles import connect_as_owner, grant_runtime_role


class Command(DjangoMigrate):
    def handle(self, *args, **options):
        runtime_role = settings.DATABASES[DEFAULT_DB_ALIAS].get("USER", "")
        default = options.get("database", DEFAULT_DB_ALIAS) == DEFAULT_DB_ALIAS
        if not (default and connect_as_owner()):
            return super().handle(*args, **options)
        verbose = options.get("verbosity", 1) >= 1
        if verbose:
            self.stdout.write("Migrating as the owner role (DATABASE_OWNER_URL)")
        super().handle(*args, **options)
        if not runtime_role or runtime_role == (settings.DATABASE_OWNER or {}).get("USER"):
            self.stderr.write(
                "DATABASE_URL and DATABASE_OWNER_URL name the same role: nothing to grant, and "
                "the portal runs as the owner of the audit tables"
            )
            return None
        with transaction.atomic():
            report = grant_runtime_role(runtime_role)
        if verbose:
            self.stdout.write(
                f"Granted {runtime_role} the runtime privileges on {report.tables} tables"
            )
        return None
