from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from audit.context import Actor, bound
from tenants import services
from tenants.models import ServiceApp


class Command(BaseCommand):
    help = "Register the serviceApp authorized/deauthorized webhooks at Webex for a Service App."

    def add_arguments(self, parser):
        parser.add_argument("client_id", help="The Service App's client id.")
        parser.add_argument(
            "--target-url",
            default="",
            help="Where Webex should deliver (default: PORTAL_PUBLIC_URL + /webhooks/webex/).",
        )

    def handle(self, *args, client_id, target_url, **options):
        app = ServiceApp.objects.filter(client_id=client_id).first()
        if app is None:
            raise CommandError(f"No Service App with client id {client_id!r}.")
        if not target_url:
            if not settings.PORTAL_PUBLIC_URL:
                raise CommandError("Give --target-url or set PORTAL_PUBLIC_URL.")
            target_url = settings.PORTAL_PUBLIC_URL.rstrip("/") + "/webhooks/webex/"
        with bound(actor=Actor.system("manage.py register_webhooks")):
            try:
                created = services.serviceapp_register_webhooks(app=app, target_url=target_url)
            except services.WebexRefused as exc:
                raise CommandError(exc.reason) from exc
        self.stdout.write(self.style.SUCCESS(f"Registered webhooks {', '.join(created)}."))
