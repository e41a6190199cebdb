import getpass

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.roles import STAFF_ROLES, Role
from accounts.services import staff_user_create
from audit.context import Actor


class Command(BaseCommand):
    help = "Create a staff account with one role. Prints a generated password unless one is given."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--role", required=True, choices=[r.value for r in STAFF_ROLES])
        parser.add_argument("--name", default="", help="Full name shown in the portal.")
        parser.add_argument(
            "--password",
            default=None,
            help="Set this password instead of generating one (avoid: it lands in shell history).",
        )

    def handle(self, *args, email, role, name, password, **options):
        try:
            user, password = staff_user_create(
                email=email,
                role=Role(role),
                password=password,
                full_name=name,
                actor=Actor.system(f"manage.py create_staff_user (os user {getpass.getuser()})"),
            )
        except ValidationError as exc:
            problems = (f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
            raise CommandError("; ".join(problems)) from exc
        self.stdout.write(self.style.SUCCESS(f"Created {Role(role).label} {user.username}"))
        self.stdout.write(f"Password: {password}")
