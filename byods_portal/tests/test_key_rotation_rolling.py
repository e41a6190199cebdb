"""Staged key rotation across two real web processes (gunicorn) on different key rings.

Issue 17: putting the new key first and restarting one process at a time answered 500 on the
process not yet restarted (`DecryptionError: value sealed with key 'k2', which is not
configured`). The staged procedure (SECURITY.md) is walked here with two gunicorn servers,
A and B, sharing the test database and the Webex emulator, restarted one at a time:

1. k2 rolled out decrypt-only on B while A still has only k1: requests on both succeed, and
   `rotate_encryption_keys` under primary k2 is refused, naming A (its web heartbeat says so);
2. A gets k2 too (decrypt-only); then B makes k2 primary while A still encrypts with k1: writes
   on either side are read on the other;
3. A makes k2 primary; the re-seal runs; k1 is retired on both. Zero failed requests throughout.

A negative control shows the requests do decrypt: a process without k2 answers 500 on them.
"""

from __future__ import annotations

import base64
import os
import secrets
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from accounts.services import apikey_create
from audit.context import Actor
from stats.models import ServiceHeartbeat
from tenants.management.commands.rotate_encryption_keys import values_per_key
from tenants.models import CustomerOrg
from tenants.services import serviceapp_create
from webex_emulator.testing import free_port

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # Two server processes share the test database: the embedded run's SQLite test database
    # lives in the test process only. `make test` runs this on PostgreSQL (and CI requires it).
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="two processes share one database"
    ),
]

K1, K2 = (base64.urlsafe_b64encode(secrets.token_bytes(32)).decode() for _ in range(2))
RING_OLD = f"k1:{K1}"
RING_BOTH = f"k1:{K1},k2:{K2}"
RING_NEW = f"k2:{K2}"
GUNICORN = Path(django_settings.BASE_DIR) / ".venv" / "bin" / "gunicorn"
STARTUP_SECONDS = 90


def _database_url() -> str:
    d = connection.settings_dict
    auth = d["USER"] + (f":{d['PASSWORD']}" if d["PASSWORD"] else "")
    return f"postgres://{auth}@{d['HOST'] or '127.0.0.1'}:{d['PORT'] or 5432}/{d['NAME']}"


class WebProcess:
    """One gunicorn server (one worker) with its own key ring, on the test database."""

    def __init__(self, label: str, emulator_server, log_dir: Path) -> None:
        self.label, self.emulator_server, self.log_dir = label, emulator_server, log_dir
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, keys: str, primary: str = "") -> None:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "byods_portal.settings_test",
            "DATABASE_URL": _database_url(),
            "DATABASE_CONN_MAX_AGE": "0",
            "PORTAL_ENCRYPTION_KEYS": keys,
            "PORTAL_ENCRYPTION_PRIMARY": primary,
            "PORTAL_WEB_HEARTBEAT": "true",
            "WEBEX_API_BASE": self.emulator_server.api_base,
            "WEBEX_IDBROKER_BASE": f"{self.emulator_server.base_url}/idb",
            "LOG_FORMAT": "text",
        }
        self.starts += 1
        log = (self.log_dir / f"{self.label}-{self.starts}.log").open("w")
        self.proc = subprocess.Popen(  # noqa: S603 - our own gunicorn, fixed arguments
            [str(GUNICORN), "byods_portal.wsgi", "--config", "gunicorn.conf.py",
             "--bind", f"127.0.0.1:{self.port}", "--workers", "1", "--timeout", "60"],
            cwd=django_settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:  # waiting for a process to listen, not for time
            if self.proc.poll() is not None:
                pytest.fail(f"{self.label} exited: see {log.name}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=15).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):
                pass  # not listening yet, or still loading Django on a busy machine
            time.sleep(0.2)
        pytest.fail(f"{self.label} did not answer within {STARTUP_SECONDS} s")

    def stop(self) -> None:
        """SIGTERM, as a rolling restart does: gunicorn stops its worker cleanly."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)
        self.proc = None

    def restart(self, keys: str, primary: str = "") -> None:
        self.stop()
        self.start(keys, primary)


@pytest.fixture
def two_web_processes(emulator_server, tmp_path):
    processes = (
        WebProcess("A", emulator_server, tmp_path),
        WebProcess("B", emulator_server, tmp_path),
    )
    yield processes
    for process in processes:
        process.stop()


def test_staged_rotation_across_a_rolling_restart_fails_no_request(
    settings, webex_world, emulator, two_web_processes, capsys
):
    a, b = two_web_processes
    settings.PORTAL_ENCRYPTION_KEYS, settings.PORTAL_ENCRYPTION_PRIMARY = RING_OLD, ""
    app = serviceapp_create(
        name="Acme Analytics",
        client_id=webex_world.client_id,
        client_secret=webex_world.client_secret,
        valid_domains=["byods.example.com"],
        schema_ids=["5397013b-7920-4ffc-807c-e8a3e0a18f43"],
        region="us",
        integration_token=webex_world.integration_token,
        actor=Actor.system("test"),
    )
    _, key = apikey_create(name="rolling restart test", role="operator", actor=Actor.system("test"))
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {key}"
    failures: list[str] = []
    answered = {"A": 0, "B": 0}

    def call(process: WebProcess, method: str, path: str, **kwargs) -> requests.Response:
        response = http.request(method, f"{process.url}/api/v1{path}", timeout=60, **kwargs)
        answered[process.label] += 1
        if response.status_code >= 400:
            failures.append(f"{process.label} {method} {path}: {response.status_code}")
        return response

    def onboard(process: WebProcess, name: str) -> str:
        """A write: the org's tokens, fetched from Webex, sealed under the process's primary."""
        org = emulator.create_org(name)
        emulator.authorize(webex_world.application_id, org["id"])
        body = {"service_app": str(app.public_id), "webex_org_id": org["webexId"],
                "name": name, "region": "us", "owner": ""}  # fmt: skip
        return call(process, "POST", "/orgs/", json=body).json().get("id", "")

    def traffic(rounds: int = 3) -> None:
        """Reads that decrypt every secret (the Service App's, every org's tokens) and a token
        refresh (decrypt, call Webex, re-seal) on each org, on both processes."""
        orgs = [str(o) for o in CustomerOrg.objects.values_list("public_id", flat=True)]
        for _ in range(rounds):
            for process in (a, b):
                call(process, "GET", f"/service-apps/{app.public_id}/")
                for org in orgs:
                    call(process, "GET", f"/orgs/{org}/token/")
        for org in orgs:
            for process in (a, b):
                call(process, "POST", f"/orgs/{org}/token/refresh/")
                call(process is a and b or a, "GET", f"/orgs/{org}/token/")

    # Before: both on k1 only.
    a.start(RING_OLD)
    b.start(RING_OLD)
    onboard(a, "Globex Retail")
    traffic()
    assert values_per_key() == {"k1": 5}  # the app's 3 secrets, the org's 2 tokens

    # Stage 1: k2 rolled out decrypt-only, one process at a time (B first; A not yet).
    b.restart(RING_BOTH, "k1")
    onboard(b, "Initech")
    traffic()
    assert set(values_per_key()) == {"k1"}  # B still encrypts with k1: A reads everything
    # Making k2 primary and re-sealing now would break A: the command sees A's heartbeat.
    settings.PORTAL_ENCRYPTION_KEYS, settings.PORTAL_ENCRYPTION_PRIMARY = RING_BOTH, "k2"
    with pytest.raises(CommandError) as refused:
        call_command("rotate_encryption_keys")
    a_beats = ServiceHeartbeat.objects.filter(role="web", key_ids=["k1"])
    assert a_beats.count() == 1
    assert f"web {a_beats.get().name}" in str(refused.value)
    assert "Refusing to re-seal under key k2" in str(refused.value)
    assert set(values_per_key()) == {"k1"}  # nothing was re-sealed
    a.restart(RING_BOTH, "k1")
    traffic()

    # Stage 2: k2 made primary, one process at a time; B encrypts with k2, A still with k1.
    b.restart(RING_BOTH, "k2")
    onboard(b, "Umbrella")
    traffic()
    assert set(values_per_key()) == {"k1", "k2"}  # both in use, both readable everywhere
    a.restart(RING_BOTH, "k2")
    traffic()

    # Stage 3: the re-seal (every process seen holds k2, so no refusal), then k1 retired.
    capsys.readouterr()
    call_command("rotate_encryption_keys")
    out = capsys.readouterr().out
    assert "Heartbeats within 300 s: 2 web." in out
    assert "Every process seen can decrypt with k2." in out
    assert values_per_key() == {"k2": 9}
    assert "key k1: 0 values (decrypt-only, no values left: retire" in out
    b.restart(RING_NEW)
    traffic()
    a.restart(RING_NEW)
    traffic()

    assert failures == []
    assert answered["A"] > 30 and answered["B"] > 30  # noqa: PLR2004

    # Negative control: the requests above do decrypt. A process that never got k2 fails them.
    a.restart(RING_OLD)
    call(a, "GET", f"/service-apps/{app.public_id}/")
    assert failures == [f"A GET /service-apps/{app.public_id}/: 500"]
