import base64
import secrets

import pytest
from django.core.management import call_command

from audit.models import AuditEvent
from tenants.management.commands.rotate_encryption_keys import values_per_key
from tenants.models import ServiceApp
from tenants.services import serviceapp_create

from .conftest import SYSTEM


def key():
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


@pytest.mark.django_db
def test_rotation_reseals_everything_under_the_new_key_and_says_the_old_can_go(settings, capsys):
    old, new = key(), key()
    settings.PORTAL_ENCRYPTION_KEYS = f"old:{old}"
    for i in range(3):
        serviceapp_create(
            name=f"App {i}",
            client_id=f"C{i}",
            client_secret=f"secret-{i}",
            valid_domains=["a.example.com"],
            schema_ids=["5397013b-7920-4ffc-807c-e8a3e0a18f43"],
            region="us",
            integration_token=f"integration-{i}",
            actor=SYSTEM,
        )
    assert values_per_key() == {"old": 9}  # secret, integration token, webhook secret x 3
    settings.PORTAL_ENCRYPTION_KEYS = f"new:{new},old:{old}"
    call_command("rotate_encryption_keys", "--batch-size", "2")
    out = capsys.readouterr().out
    assert values_per_key() == {"new": 9}
    assert "key old: 0 values (decrypt-only, no values left: retire" in out
    assert "9/9 re-sealed" in out
    settings.PORTAL_ENCRYPTION_KEYS = f"new:{new}"  # the old key is gone: all still readable
    assert sorted(a.client_secret for a in ServiceApp.objects.all()) == [
        "secret-0",
        "secret-1",
        "secret-2",
    ]
    event = AuditEvent.objects.get(action="encryption.keys_rotated")
    assert event.changes["values_per_key"]["after"] == {"new": 9}


@pytest.mark.django_db
def test_rotation_is_resumable_and_report_only_changes_nothing(settings, capsys):
    old, new = key(), key()
    settings.PORTAL_ENCRYPTION_KEYS = f"old:{old}"
    serviceapp_create(
        name="App",
        client_id="C1",
        client_secret="s",
        valid_domains=["a.example.com"],
        schema_ids=["5397013b-7920-4ffc-807c-e8a3e0a18f43"],
        region="us",
        integration_token="t",
        actor=SYSTEM,
    )
    settings.PORTAL_ENCRYPTION_KEYS = f"new:{new},old:{old}"
    call_command("rotate_encryption_keys", "--report-only")
    assert values_per_key() == {"old": 3}
    assert "still in use" in capsys.readouterr().out
    call_command("rotate_encryption_keys")
    call_command("rotate_encryption_keys")  # a second run finds nothing left to do
    assert values_per_key() == {"new": 3}
    assert AuditEvent.objects.filter(action="encryption.keys_rotated").count() == 1
