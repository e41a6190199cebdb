"""Staged key rotation: a decrypt-only key, the primary setting, every process's ring in its
heartbeat, and rotate_encryption_keys refusing to re-seal under a key not yet everywhere."""

import base64
import datetime as dt
import os
import secrets

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from audit.context import Actor
from audit.models import AuditEvent
from byods_portal import web_heartbeat
from core.encryption import KeyRing, keyring, split
from stats.liveness import Role, heartbeat_record
from stats.models import ServiceHeartbeat
from tenants.management.commands.rotate_encryption_keys import values_per_key
from tenants.services import serviceapp_create

K1, K2 = (base64.urlsafe_b64encode(secrets.token_bytes(32)).decode() for _ in range(2))


def test_the_primary_setting_names_the_encrypting_key_and_the_rest_only_decrypt():
    old_only = KeyRing.parse(f"k1:{K1}")
    staged = KeyRing.parse(f"k1:{K1},k2:{K2}", "k1")  # k2 rolled out, decrypt-only
    assert (staged.primary, staged.decrypt_only) == ("k1", ("k2",))
    sealed = staged.encrypt("token")
    assert split(sealed)[0] == "k1"
    assert old_only.decrypt(sealed) == "token"  # a process not yet updated still reads it
    promoted = KeyRing.parse(f"k1:{K1},k2:{K2}", "k2")
    assert split(promoted.encrypt("token"))[0] == "k2"
    assert staged.decrypt(promoted.encrypt("token")) == "token"
    assert KeyRing.parse(f"k2:{K2},k1:{K1}").primary == "k2"  # default: the first, as before


def test_a_primary_that_is_not_in_the_ring_is_refused_by_name():
    with pytest.raises(ImproperlyConfigured, match="PORTAL_ENCRYPTION_PRIMARY is 'k3'.*k1, k2"):
        KeyRing.parse(f"k1:{K1},k2:{K2}", "k3")


def test_keyring_follows_the_primary_setting(settings):
    settings.PORTAL_ENCRYPTION_KEYS = f"k1:{K1},k2:{K2}"
    settings.PORTAL_ENCRYPTION_PRIMARY = ""
    assert keyring().primary == "k1"
    settings.PORTAL_ENCRYPTION_PRIMARY = "k2"
    assert keyring().primary == "k2"


def _app(n: int = 1):
    for i in range(n):
        serviceapp_create(
            name=f"App {i}",
            client_id=f"C{i}",
            client_secret=f"secret-{i}",
            valid_domains=["a.example.com"],
            schema_ids=["5397013b-7920-4ffc-807c-e8a3e0a18f43"],
            region="us",
            integration_token=f"integration-{i}",
            actor=Actor.system("test"),
        )


def _beat(settings, name: str, keys: str, primary: str = "", now=None, role=Role.WORKER):
    """A process with ring `keys` beats (the ring comes from its settings, as in production)."""
    saved = settings.PORTAL_ENCRYPTION_KEYS, settings.PORTAL_ENCRYPTION_PRIMARY
    settings.PORTAL_ENCRYPTION_KEYS, settings.PORTAL_ENCRYPTION_PRIMARY = keys, primary
    started = timezone.now() - dt.timedelta(hours=1)
    heartbeat_record(role=role, name=name, pid=42, started_at=started, now=now)
    settings.PORTAL_ENCRYPTION_KEYS, settings.PORTAL_ENCRYPTION_PRIMARY = saved


@pytest.mark.django_db
def test_heartbeats_carry_the_key_ids_and_primary_never_the_keys(settings):
    _beat(settings, "celery@a", f"k1:{K1},k2:{K2}", "k1")
    row = ServiceHeartbeat.objects.get(name="celery@a")
    assert (row.key_ids, row.primary_key_id) == (["k1", "k2"], "k1")
    assert K1 not in str(ServiceHeartbeat.objects.values().get(name="celery@a"))


@pytest.mark.django_db
def test_rotation_refuses_while_a_running_process_lacks_the_primary_and_names_it(settings, capsys):
    settings.PORTAL_ENCRYPTION_KEYS = f"k1:{K1}"
    _app(2)
    _beat(settings, "celery@old-worker", f"k1:{K1}")  # not updated yet
    _beat(settings, "web@b:7", f"k1:{K1},k2:{K2}", "k1", role=Role.WEB)
    settings.PORTAL_ENCRYPTION_KEYS, settings.PORTAL_ENCRYPTION_PRIMARY = f"k1:{K1},k2:{K2}", "k2"
    with pytest.raises(CommandError) as refused:
        call_command("rotate_encryption_keys")
    message = str(refused.value)
    assert "Refusing to re-seal under key k2" in message
    assert "worker celery@old-worker" in message and "keys k1," in message
    assert "web@b:7" not in message  # it holds k2
    assert values_per_key() == {"k1": 6}  # nothing re-sealed
    assert not AuditEvent.objects.filter(action="encryption.keys_rotated").exists()
    out = capsys.readouterr().out
    assert "Heartbeats within 300 s: 1 web, 1 worker." in out
    assert "Assuming: every process not listed above" in out


@pytest.mark.django_db
def test_a_process_silent_for_longer_than_seen_within_no_longer_blocks(settings, capsys):
    settings.PORTAL_ENCRYPTION_KEYS = f"k1:{K1}"
    _app()
    long_ago = timezone.now() - dt.timedelta(minutes=10)
    _beat(settings, "beat@gone:1", f"k1:{K1}", now=long_ago, role=Role.SCHEDULER)
    settings.PORTAL_ENCRYPTION_KEYS, settings.PORTAL_ENCRYPTION_PRIMARY = f"k1:{K1},k2:{K2}", "k2"
    with pytest.raises(CommandError, match="beat@gone:1"):
        call_command("rotate_encryption_keys", "--seen-within", "900")
    call_command("rotate_encryption_keys")  # default window: 300 s
    assert values_per_key() == {"k2": 3}
    out = capsys.readouterr().out
    assert "Assuming: web processes hold key k2 (none reported a heartbeat" in out
    assert "key k1: 0 values (decrypt-only, no values left: retire" in out


@pytest.mark.django_db
def test_assume_all_updated_reseals_anyway_and_says_over_whom(settings, capsys):
    settings.PORTAL_ENCRYPTION_KEYS = f"k1:{K1}"
    _app()
    _beat(settings, "celery@old-worker", f"k1:{K1}")
    settings.PORTAL_ENCRYPTION_KEYS, settings.PORTAL_ENCRYPTION_PRIMARY = f"k1:{K1},k2:{K2}", "k2"
    call_command("rotate_encryption_keys", "--assume-all-updated")
    assert values_per_key() == {"k2": 3}
    captured = capsys.readouterr()
    assert "Assuming all updated although" in captured.err
    assert "celery@old-worker" in captured.err
    event = AuditEvent.objects.get(action="encryption.keys_rotated")
    assert event.changes["assumed_all_updated_over"]["after"] == ["celery@old-worker"]


@pytest.mark.django_db
def test_report_only_never_refuses(settings, capsys):
    settings.PORTAL_ENCRYPTION_KEYS = f"k1:{K1}"
    _beat(settings, "celery@old-worker", f"k1:{K1}")
    settings.PORTAL_ENCRYPTION_KEYS, settings.PORTAL_ENCRYPTION_PRIMARY = f"k1:{K1},k2:{K2}", "k2"
    call_command("rotate_encryption_keys", "--report-only")
    assert "celery@old-worker" in capsys.readouterr().err


@pytest.mark.django_db
def test_web_processes_beat_from_requests_throttled_and_only_when_on(settings):
    web_heartbeat.reset()
    settings.PORTAL_ENCRYPTION_KEYS, settings.PORTAL_ENCRYPTION_PRIMARY = f"k1:{K1},k2:{K2}", "k1"
    client = Client()
    client.get("/healthz")
    assert not ServiceHeartbeat.objects.filter(role=Role.WEB).exists()  # off in tests
    settings.PORTAL_WEB_HEARTBEAT = True
    client.get("/healthz")
    row = ServiceHeartbeat.objects.get(role=Role.WEB)
    assert row.name == web_heartbeat.process_name() and row.pid == os.getpid()
    assert (row.key_ids, row.primary_key_id) == (["k1", "k2"], "k1")
    first = row.last_seen_at
    client.get("/healthz")  # within PORTAL_HEARTBEAT_SECONDS: no write
    assert ServiceHeartbeat.objects.get(role=Role.WEB).last_seen_at == first
    later = first + dt.timedelta(seconds=settings.PORTAL_HEARTBEAT_SECONDS)
    assert web_heartbeat.beat_if_due(now=later)
    assert ServiceHeartbeat.objects.get(role=Role.WEB).last_seen_at == later
    web_heartbeat.forget_this_process()  # a gunicorn worker stopping cleanly
    assert not ServiceHeartbeat.objects.filter(role=Role.WEB).exists()
    web_heartbeat.reset()
