"""Create the demo operator for `make run` once; print its credentials on every run.

The password is kept in `var/demo-operator.txt` (mode 0600, git-ignored) so a developer who
missed the first run's output can still sign in. This command refuses to run outside the local
demo (PORTAL_LOCAL_DEMO, which `make run` writes): a production database never gets a demo
account.
"""

from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.roles import Role
from accounts.services import staff_user_create
from audit.context import Actor

DEMO_OPERATOR = "operator@example.com"


class Command(BaseCommand):
    help = (
        "Create the demo operator account for local use (local demo only) and print how to sign in."
    )

    def handle(self, *args, **options):
        if not (settings.PORTAL_LOCAL_DEMO or settings.DEBUG):
            raise CommandError(
                "seed_demo only runs for local demos: PORTAL_LOCAL_DEMO=true "
                "(or DJANGO_DEBUG=true)."
            )
        credentials = Path(settings.VAR_DIR) / "demo-operator.txt"
        exists = get_user_model().objects.filter(username=DEMO_OPERATOR).exists()
        if not exists:
            _, password = staff_user_create(
                email=DEMO_OPERATOR,
                role=Role.OPERATOR,
                full_name="Demo Operator",
                actor=Actor.system("seed_demo"),
            )
            credentials.parent.mkdir(parents=True, exist_ok=True)
            credentials.write_text(password + "\n")
            credentials.chmod(0o600)
        if credentials.exists():
            password = credentials.read_text().strip()
        else:
            password = f"(unknown: run `manage.py changepassword {DEMO_OPERATOR}`)"
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS("  Demo operator (sign in with these):"))
        self.stdout.write(f"    e-mail:   {DEMO_OPERATOR}")
        self.stdout.write(f"    password: {password}")
