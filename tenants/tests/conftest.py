import pytest

from audit.context import Actor
from tenants.models import ServiceApp
from tenants.services import serviceapp_create

SYSTEM = Actor.system("test")


@pytest.fixture
def portal_app(db, settings, webex_world) -> ServiceApp:
    """The portal's record of the emulator world's Service App, with the regions pointed at
    the emulator under test."""
    settings.WEBEX_REGIONS = {
        region: {"api": webex_world.api_base, "idbroker": webex_world.idbroker_base}
        for region in ("us", "eu", "integration")
    }
    return serviceapp_create(
        name="Acme Analytics",
        client_id=webex_world.client_id,
        client_secret=webex_world.client_secret,
        valid_domains=["byods.example.com"],
        schema_ids=["5397013b-7920-4ffc-807c-e8a3e0a18f43"],
        region="us",
        integration_token=webex_world.integration_token,
        actor=SYSTEM,
    )
