import pytest
from django.core.management import CommandError, call_command

from datasources.models import DataSource
from tenants.models import CustomerOrg, ServiceApp


@pytest.mark.django_db
def test_seed_demo_webex_mirrors_the_emulators_demo_world_once(
    settings, emulator, emulator_server, capsys
):
    emulator.reset(seed_demo=True)
    settings.PORTAL_LOCAL_DEMO = True  # as `make run` writes it, with DEBUG off
    settings.WEBEX_EMULATOR_URL = emulator_server.base_url
    settings.WEBEX_REGIONS = {
        r: {"api": emulator_server.api_base, "idbroker": f"{emulator_server.base_url}/idb"}
        for r in ("us", "eu", "integration")
    }
    call_command("seed_demo_webex", "--portal-url", "http://127.0.0.1:8000")
    app = ServiceApp.objects.get()
    assert app.name == "Acme Contact Center Analytics" and len(app.webhook_ids) == 2
    assert CustomerOrg.objects.filter(status="active").count() == 2
    assert DataSource.objects.count() == 6
    assert len(emulator.state()["dataSources"]) == 6
    call_command("seed_demo_webex")
    assert "already present" in capsys.readouterr().out
    assert DataSource.objects.count() == 6


@pytest.mark.django_db
def test_seed_demo_webex_refuses_outside_a_local_demo(settings):
    settings.DEBUG, settings.PORTAL_LOCAL_DEMO = False, False
    with pytest.raises(CommandError, match="PORTAL_LOCAL_DEMO=true"):
        call_command("seed_demo_webex")
