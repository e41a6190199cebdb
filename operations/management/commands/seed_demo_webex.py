"""Mirror the Webex emulator's demo world into the portal, once (for `make run`).

Waits for the emulator, reads its Service App and partner integration token from the control
surface, adds the Service App, registers the authorization webhooks (so authorizing another org
in the emulator onboards it here on its own), and onboards the orgs that already authorized.
Local demo only (PORTAL_LOCAL_DEMO): a production portal never reads an emulator's control surface.
"""

import time

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from audit.context import Actor, bound
from tenants import services
from tenants.models import CustomerOrg, ServiceApp


class Command(BaseCommand):
    help = "Add the emulator's demo Service App and orgs to the portal (local demo only, once)."

    def add_arguments(self, parser):
        parser.add_argument("--wait", type=float, default=30.0, help="Seconds to wait for it.")
        parser.add_argument(
            "--portal-url", default="http://127.0.0.1:8000", help="Webhook target base URL."
        )

    def handle(self, *args, wait, portal_url, **options):
        if not (settings.PORTAL_LOCAL_DEMO or settings.DEBUG):
            raise CommandError(
                "seed_demo_webex only runs for local demos: PORTAL_LOCAL_DEMO=true "
                "(or DJANGO_DEBUG=true)."
            )
        if ServiceApp.objects.exists():
            self.stdout.write("Demo Service App already present: nothing to seed.")
            return
        state = self._emulator_state(settings.WEBEX_EMULATOR_URL.rstrip("/"), wait)
        app_data = state["serviceApps"][0]
        integration = next(t for t in state["tokens"] if t["kind"] == "integration")
        names = {o["id"]: o["name"] for o in state["orgs"]}
        with bound(actor=Actor.system("seed_demo_webex")):
            app = services.serviceapp_create(
                name=app_data["name"],
                client_id=app_data["clientId"],
                client_secret=app_data["clientSecret"],
                valid_domains=app_data["validDomains"],
                schema_ids=app_data["dataSourceSchemaIds"],
                region="us",
                integration_token=integration["token"],
            )
            try:
                services.serviceapp_register_webhooks(
                    app=app, target_url=f"{portal_url.rstrip('/')}/webhooks/webex/"
                )
            except services.WebexRefused as exc:
                self.stderr.write(f"Webhooks not registered: {exc.reason}")
            for auth in state["authorizations"]:
                if auth["applicationId"] != app.application_id:
                    continue
                org = services.org_onboard(
                    app=app,
                    webex_org_id=auth["orgId"],
                    name=names.get(auth["orgId"], auth["orgId"]),
                    region="us",
                )
                self._demo_datasources(org)
                self.stdout.write(f"Onboarded demo org {org.name} with demo data sources")
        count = CustomerOrg.objects.count()
        self.stdout.write(self.style.SUCCESS(f"Seeded {app.name} with {count} orgs."))

    def _demo_datasources(self, org) -> None:
        """A few data sources with short lifetimes, so the rotation engine visibly works."""
        from datasources.services import datasource_register

        slug = org.name.split()[0].lower()
        lifetimes = (10, 30, 60)
        for i, schema in enumerate(org.authorized_schema_ids[: len(lifetimes)]):
            datasource_register(
                org=org,
                schema_id=schema,
                url=f"https://{slug}-{i + 1}.byods.example.com/feed",
                audience="byods-demo-receiver",
                subject=f"{slug}-feed-{i + 1}",
                token_lifetime_minutes=lifetimes[i],
            )

    def _emulator_state(self, base: str, wait: float) -> dict:
        deadline = time.monotonic() + wait
        while True:
            try:
                response = requests.get(f"{base}/_emulator/state", timeout=5)
                response.raise_for_status()
                state = response.json()
                if state.get("serviceApps"):
                    return state
            except (requests.RequestException, ValueError):
                pass
            if time.monotonic() > deadline:
                raise CommandError(f"The Webex emulator at {base} did not answer in {wait:.0f} s.")
            time.sleep(0.5)
