import base64
import secrets

import pytest
from django.core.exceptions import ImproperlyConfigured

from core.encryption import DecryptionError, KeyRing, split


def new_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def test_the_first_key_encrypts_and_every_key_decrypts():
    old, new = new_key(), new_key()
    before = KeyRing.parse(f"k1:{old}")
    sealed_old = before.encrypt("refresh-token-value")
    after = KeyRing.parse(f"k2:{new},k1:{old}")
    assert split(sealed_old)[0] == "k1"
    assert after.decrypt(sealed_old) == "refresh-token-value"
    sealed_new = after.encrypt("refresh-token-value")
    assert split(sealed_new)[0] == "k2"
    assert "refresh-token-value" not in sealed_new


def test_a_value_sealed_with_a_retired_key_fails_loudly_without_its_content():
    ring = KeyRing.parse(f"k1:{new_key()}")
    sealed = ring.encrypt("secret")
    with pytest.raises(DecryptionError, match="'k1', which is not configured") as err:
        KeyRing.parse(f"k2:{new_key()}").decrypt(sealed)
    assert "secret" not in str(err.value)


def test_a_tampered_value_fails_authentication():
    ring = KeyRing.parse(f"k1:{new_key()}")
    sealed = ring.encrypt("secret")
    tampered = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    with pytest.raises(DecryptionError, match="failed authentication"):
        ring.decrypt(tampered)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "holds no key"),
        ("nokeyid", "must look like 'key-id:base64key'"),
        ("k1:short", "not 32 bytes"),
        (f"k1:{base64.urlsafe_b64encode(b'x' * 32).decode()},k1:{new_key()}", "twice"),
        (f"bad id:{new_key()}", "must look like"),
    ],
)
def test_misconfigured_key_rings_are_refused(spec, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        KeyRing.parse(spec)


@pytest.mark.django_db
def test_a_dump_and_load_keeps_values_sealed_once(tmp_path):
    from django.core.management import call_command

    from audit.context import Actor
    from tenants.models import ServiceApp
    from tenants.services import serviceapp_create

    serviceapp_create(
        name="A",
        client_id="C1",
        client_secret="the-secret",
        valid_domains=["a.example.com"],
        schema_ids=["5397013b-7920-4ffc-807c-e8a3e0a18f43"],
        region="us",
        integration_token="t",
        actor=Actor.system("test"),
    )
    dump = tmp_path / "apps.json"
    call_command("dumpdata", "tenants.serviceapp", output=str(dump))
    assert "the-secret" not in dump.read_text()
    ServiceApp.objects.all().delete()
    call_command("loaddata", str(dump), verbosity=0)
    assert ServiceApp.objects.get().client_secret == "the-secret"
