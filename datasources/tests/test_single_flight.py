"""Single flight for "rotate now" and "refresh now", proved against a live portal.

Every test runs pytest-django's `live_server` (a threaded WSGI server) with the Webex emulator
behind it, fires real concurrent HTTP requests (API keys or signed-in sessions) and takes the
emulator's request log as the witness of what reached Webex: one PUT per rotation, one
`/v1/access_token` per refresh, never a nonce sent twice except by a crash recovery.

The suite's settings turn the single-flight window off (SINGLE_FLIGHT_SECONDS = 0) because most
tests rotate right after registering; these tests set the production value. Registering counts
as a rotation (`last_rotated_at`), so the rotation tests first move the clock past that window,
as a user who clicks "Rotate now" a minute after registering would be.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Callable
from urllib.parse import quote

import pytest
import requests
import time_machine
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.tests.helpers import verified_login
from audit.models import AuditEvent
from audit.vocabulary import Action
from datasources import tasks
from datasources.models import DataSource, NonceRecord
from operations import tasks as operation_tasks
from operations.models import BulkOperation
from operations.selectors import Selection
from operations.services import bulk_operation_start
from tenants.models import OrgToken
from webex.client import WebexClient

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

COALESCED = {"in_progress", "already_rotated"}
LATENCY_MS = 200  # every Webex call takes this long: the storm arrives while one is in flight


@pytest.fixture(autouse=True)
def single_flight(settings):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL; SQLite serializes writers differently")
    settings.SINGLE_FLIGHT_SECONDS = 10  # the production value (see byods_portal/settings.py)


# ------------------------------------------------------------------------- helpers
def storm(n: int, fire: Callable, prepare: Callable | None = None, timeout: float = 60) -> list:
    """Run `fire(i, prepare(i))` in `n` threads released together by a barrier, so every
    request is on its way before the first one is answered; returns the results in order."""
    barrier = threading.Barrier(n)
    results: list = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            prepared = prepare(i) if prepare else None
            barrier.wait(timeout=timeout)
            results[i] = fire(i, prepared)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)
            barrier.abort()
        finally:
            connection.close()  # a thread's own connection, or the test database stays busy

    threads = [threading.Thread(target=run, args=(i,), name=f"storm-{i}") for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(t.is_alive() for t in threads), "a storm thread hung"
    assert not errors, errors[:3]
    return results


def api_keys(api_client_for, n: int) -> list[str]:
    """`n` operator API keys: independent API clients, each within its own rate limit."""
    return [api_client_for("operator").key for _ in range(n)]


def api_post(url: str, key: str) -> tuple[int, dict]:
    response = requests.post(url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    return response.status_code, response.json()


def puts(emulator, ds: DataSource) -> list[dict]:
    """Every PUT of this data source that reached the emulator (its log records the nonce)."""
    return emulator.requests_log(path=f"/v1/dataSources/{ds.webex_id}", method="PUT")


def rotate_url(live_server, ds: DataSource) -> str:
    return f"{live_server.url}/api/v1/datasources/{ds.public_id}/rotate/"


def api_rotation_storm(live_server, keys: list[str], ds: DataSource) -> list[str]:
    """Every key asks "rotate now" at once; every answer must be a 200 with an outcome."""
    url = rotate_url(live_server, ds)
    answers = storm(len(keys), lambda i, _: api_post(url, keys[i]))
    assert {status for status, _ in answers} == {200}, answers
    return [body["outcome"] for _, body in answers]


def past_the_window(ds: DataSource, seconds: int = 60):
    """The clock a minute after registering: the registration's fresh JWS no longer counts
    as a rotation done "just now" (moving time rather than writing `last_rotated_at`)."""
    return time_machine.travel(ds.last_rotated_at + dt.timedelta(seconds=seconds), tick=True)


def rotated_events(ds: DataSource) -> int:
    return AuditEvent.objects.filter(
        action=Action.DATASOURCE_ROTATED, target_id=str(ds.public_id)
    ).count()


def assert_one_rotation(emulator, ds: DataSource) -> DataSource:
    """Exactly one PUT reached Webex, with a fresh nonce that is now the data source's own;
    the row moved one version, the lease is back and one rotation is in the audit trail."""
    sent = puts(emulator, ds)
    assert len(sent) == 1, [(p["nonce"], p["status"]) for p in sent]
    fresh = DataSource.objects.get(pk=ds.pk)
    assert sent[0]["status"] == 200 and sent[0]["nonce"] == fresh.nonce != ds.nonce
    assert fresh.version == ds.version + 1
    assert fresh.pending_nonce == "" and fresh.inflight_until is None
    assert NonceRecord.objects.filter(datasource=ds, purpose="rotate").count() == 1
    assert rotated_events(ds) == 1
    return fresh


# ------------------------------------------------------------------------- refresh now (API)
def test_fifty_concurrent_api_refreshes_make_one_token_call(
    live_server, api_client_for, org, emulator
):
    keys = api_keys(api_client_for, 50)
    before = OrgToken.objects.get(org=org)
    emulator.clear_requests_log()
    emulator.set_latency(LATENCY_MS)
    url = f"{live_server.url}/api/v1/orgs/{org.public_id}/token/refresh/"

    answers = storm(50, lambda i, _: api_post(url, keys[i]))

    assert {status for status, _ in answers} == {200}, answers
    outcomes = Counter(body["outcome"] for _, body in answers)
    assert outcomes == {"refreshed": 1, "already_refreshed": 49}, outcomes
    assert len(emulator.requests_log(path="/v1/access_token")) == 1
    after = OrgToken.objects.get(org=org)
    assert after.version == before.version + 1 and after.access_token != before.access_token
    # Every answer shows the one new token, whoever caused it.
    assert {body["token"]["version"] for _, body in answers} == {after.version}
    refreshed = AuditEvent.objects.filter(action=Action.ORG_TOKENS_REFRESHED)
    assert refreshed.count() == 1


# ------------------------------------------------------------------------- rotate now (API)
def test_fifty_concurrent_api_rotations_make_one_put(
    live_server, api_client_for, register, emulator
):
    keys = api_keys(api_client_for, 50)
    ds = register()
    emulator.clear_requests_log()
    emulator.set_latency(LATENCY_MS)
    with past_the_window(ds):
        outcomes = api_rotation_storm(live_server, keys, ds)

    counted = Counter(outcomes)
    assert counted["rotated"] == 1 and set(counted) - {"rotated"} <= COALESCED, counted
    assert_one_rotation(emulator, ds)


# ------------------------------------------------------------------------- the page's button
ALERT = re.compile(r'role="alert">\s*(.*?)\s*<button', re.S)
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def test_twenty_concurrent_rotate_buttons_make_one_put(live_server, client_for, register, emulator):
    ds = register()
    operator = client_for("operator").user
    detail = live_server.url + reverse("datasources:detail", args=[ds.public_id])
    button = live_server.url + reverse("datasources:rotate", args=[ds.public_id])

    def browser_tab(i: int) -> tuple[requests.Session, str]:
        """A signed-in session of its own (as twenty tabs or colleagues would have), with the
        CSRF token of the page that shows the button."""
        client = Client()
        verified_login(client, operator)
        tab = requests.Session()
        name = django_settings.SESSION_COOKIE_NAME
        tab.cookies.set(name, client.cookies[name].value)
        page = tab.get(detail, timeout=30)
        assert page.status_code == 200 and "Rotate now" in page.text
        return tab, CSRF.search(page.text).group(1)

    def click(i: int, prepared) -> str:
        tab, token = prepared
        answer = tab.post(button, data={"csrfmiddlewaretoken": token}, timeout=30)
        assert answer.status_code == 200 and answer.url == detail  # followed the redirect
        return ALERT.search(answer.text).group(1)

    emulator.clear_requests_log()
    emulator.set_latency(LATENCY_MS)
    with past_the_window(ds):
        shown = storm(20, click, prepare=browser_tab)

    rotated = [text for text in shown if text.startswith("Rotated the JWS of")]
    coalesced = [text for text in shown if text.startswith("Not rotated again:")]
    assert len(rotated) == 1 and len(coalesced) == 19, shown
    assert all("in flight at Webex" in t or "issued moments ago" in t for t in coalesced)
    assert_one_rotation(emulator, ds)


# ------------------------------------------------------------------------- against the sweep
def first_put_leaves(monkeypatch) -> threading.Event:
    """Set when the first PUT of the test leaves for Webex (after its write-ahead)."""
    sent = threading.Event()
    real = WebexClient.update_datasource

    def signalling(self, **kwargs):
        sent.set()
        return real(self, **kwargs)

    monkeypatch.setattr(WebexClient, "update_datasource", signalling)
    return sent


# "together": everyone released at once (in practice the API usually wins the row lock);
# "<it>-first": the others are released once its PUT is on its way, so it always wins.
LEADERS = pytest.mark.parametrize("leads", ["together", "first"], ids=["together", "it-first"])


@LEADERS
def test_rotate_now_racing_the_sweep_makes_one_put(
    live_server, api_client_for, register, emulator, monkeypatch, leads
):
    keys = api_keys(api_client_for, 20)
    ds = register()
    # Due the way it becomes due in production: time passes. The emulator's clock moves too,
    # so the expiry it signs and the portal's "now" stay consistent.
    shift = ds.next_rotation_at + dt.timedelta(seconds=1) - timezone.now()
    batches: list[dict] = []
    # The sweep hands its claims to `rotate_batch.delay`; run each batch here, in its thread.
    monkeypatch.setattr(
        tasks.rotate_batch, "delay", lambda ids: batches.append(tasks.rotate_batch(ids))
    )
    sent = first_put_leaves(monkeypatch)
    emulator.clear_requests_log()
    emulator.set_latency(LATENCY_MS)
    emulator.advance_clock(shift.total_seconds())
    url = rotate_url(live_server, ds)

    def fire(i: int, _):
        if i == 0:
            return tasks.rotation_sweep()  # the beat's sweep, with its batch in-process
        if leads == "first":
            assert sent.wait(10), "the sweep sent nothing"
        return api_post(url, keys[i - 1])

    with time_machine.travel(timezone.now() + shift, tick=True):
        assert DataSource.objects.filter(pk=ds.pk, next_rotation_at__lte=timezone.now()).exists()
        results = storm(21, fire)

    claimed, answers = results[0], results[1:]
    assert {status for status, _ in answers} == {200}, answers
    api = Counter(body["outcome"] for _, body in answers)
    sweep = Counter()
    for batch in batches:
        sweep.update(batch)
    assert claimed in (0, 1) and sum(sweep.values()) == claimed
    # One of them rotated; every other answer says why it did not.
    assert api["rotated"] + sweep["rotated"] == 1, (api, sweep)
    assert set(api) - {"rotated"} <= COALESCED, api
    assert set(sweep) <= {"rotated", "in_progress", "skipped"}, sweep
    if leads == "first":
        assert sweep == {"rotated": 1}, sweep
    assert_one_rotation(emulator, ds)


# ------------------------------------------------------------------------- against a bulk op
@LEADERS
def test_bulk_rotation_racing_api_rotations_makes_one_put(
    live_server, api_client_for, client_for, register, emulator, monkeypatch, leads
):
    keys = api_keys(api_client_for, 20)
    ds = register()
    operator = client_for("operator").user
    op = bulk_operation_start(
        kind=BulkOperation.Kind.ROTATE,
        selection=Selection(target_type="datasource", public_ids=(ds.public_id,)),
        user=operator,
    )
    sent = first_put_leaves(monkeypatch)
    emulator.clear_requests_log()
    emulator.set_latency(LATENCY_MS)
    url = rotate_url(live_server, ds)

    def fire(i: int, _):
        if i == 0:
            return operation_tasks.run(op.pk)  # the chunk task, synchronously in this thread
        if leads == "first":
            assert sent.wait(10), "the bulk operation sent nothing"
        return api_post(url, keys[i - 1])

    with past_the_window(ds):
        results = storm(21, fire)

    more, answers = results[0], results[1:]
    assert more is False and {status for status, _ in answers} == {200}, answers
    api = Counter(body["outcome"] for _, body in answers)
    op.refresh_from_db()
    item = op.items.get()
    assert op.state == "done" and item.state in ("succeeded", "skipped"), item.reason
    assert api["rotated"] + (item.state == "succeeded") == 1, (api, item.state, item.reason)
    assert set(api) - {"rotated"} <= COALESCED, api
    if item.state == "skipped":
        assert "in flight at Webex" in item.reason or "issued moments ago" in item.reason
    if leads == "first":
        assert item.state == "succeeded" and (op.succeeded, op.skipped) == (1, 0)
    assert_one_rotation(emulator, ds)


# ------------------------------------------------------------------------- crash recovery
# A real worker process that sends the PUT, gets Webex's answer and dies (SIGKILL) before it
# can record it: its write-ahead left the nonce pending and the in-flight lease held, and no
# `finally` or `except BaseException` of the service gets to run (a thread cannot die so).
DYING_WORKER = """
import json, os, sys, time
import django
django.setup()
from django.conf import settings
settings.WEBEX_REGIONS = json.loads(os.environ["SF_WEBEX_REGIONS"])
# It runs on the real clock, right after the registration: no "rotated just now" window.
settings.SINGLE_FLIGHT_SECONDS = 0
from datasources import services
from webex.client import WebexClient

real = WebexClient.update_datasource

def answered_then_stuck(self, **kwargs):
    remote = real(self, **kwargs)
    print("ANSWERED", kwargs["request"].nonce, flush=True)
    time.sleep(120)  # killed here, between Webex's answer and the completion
    return remote

WebexClient.update_datasource = answered_then_stuck
services.datasource_rotate(ds_id=int(sys.argv[1]), force=True)
"""


def _database_url() -> str:
    db = connection.settings_dict  # the test database, as this process uses it
    user = quote(db["USER"] or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    return (
        f"postgres://{user}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )


def kill_a_worker_after_its_put(ds: DataSource) -> str:
    """Run the dying worker; return the nonce it sent once it has been SIGKILLed."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "byods_portal.settings_test",
        "DATABASE_URL": _database_url(),
        "SF_WEBEX_REGIONS": json.dumps(django_settings.WEBEX_REGIONS),
    }
    with tempfile.TemporaryFile() as stderr:
        worker = subprocess.Popen(
            [sys.executable, "-c", DYING_WORKER, str(ds.pk)],
            cwd=str(django_settings.BASE_DIR),
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
        try:
            ready, _, _ = select.select([worker.stdout], [], [], 30)
            line = worker.stdout.readline().decode() if ready else ""
            if not line.startswith("ANSWERED "):
                stderr.seek(0)
                pytest.fail(f"the worker never got its answer: {stderr.read().decode()[-2000:]}")
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
            worker.stdout.close()
    assert worker.returncode == -signal.SIGKILL
    return line.split()[1]


def test_a_dead_workers_nonce_is_resent_once_and_only_after_its_lease(
    live_server, api_client_for, register, emulator
):
    keys = api_keys(api_client_for, 10)
    ds = register()
    emulator.clear_requests_log()
    with past_the_window(ds):
        nonce = kill_a_worker_after_its_put(ds)
        # Webex took the PUT; the portal only knows that an attempt started.
        assert [(p["nonce"], p["status"]) for p in puts(emulator, ds)] == [(nonce, 200)]
        dead = DataSource.objects.get(pk=ds.pk)
        assert dead.pending_nonce == nonce and dead.version == ds.version
        assert dead.inflight_until > timezone.now()
        lease_end = dead.inflight_until

        # While the lease holds nobody can tell a dead worker from a slow one: nothing is sent.
        emulator.set_latency(LATENCY_MS)
        outcomes = api_rotation_storm(live_server, keys, ds)
        assert Counter(outcomes) == {"in_progress": 10}
        assert len(puts(emulator, ds)) == 1

    # Once the lease has run out the worker is known to be gone: its nonce is sent again,
    # once, however many callers ask at the same moment.
    with time_machine.travel(lease_end + dt.timedelta(seconds=1), tick=True):
        outcomes = api_rotation_storm(live_server, keys, ds)
    counted = Counter(outcomes)
    assert counted["rotated"] == 1 and set(counted) - {"rotated"} <= COALESCED, counted
    assert [(p["nonce"], p["status"]) for p in puts(emulator, ds)] == [(nonce, 200)] * 2
    fresh = DataSource.objects.get(pk=ds.pk)
    assert fresh.nonce == nonce and fresh.pending_nonce == "" and fresh.inflight_until is None
    assert fresh.version == ds.version + 1  # the dead attempt never completed: one rotation
    record = NonceRecord.objects.get(nonce=nonce)
    assert record.attempts == 2 and record.outcome == NonceRecord.Outcome.OK
    assert rotated_events(ds) == 1
