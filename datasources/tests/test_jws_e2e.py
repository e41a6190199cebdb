"""The verifier against the emulator: Webex (the emulator) presents the data source's JWS to a
receiver on loopback that asks `jws_verify_for_api`; rotations and key rotation in between."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import requests
import time_machine
from django.db import connection
from django.utils import timezone

from datasources import jws
from datasources.jws import Code, jws_verify, jws_verify_for_api
from datasources.services import datasource_rotate
from webex_emulator.testing import LoopbackReceiver

from .conftest import SYSTEM
from .test_jws import FakeClock


@pytest.fixture(autouse=True)
def fresh_caches():
    jws.jws_caches_clear()
    yield
    jws.jws_caches_clear()


def current_jws(emulator, ds) -> str:
    (source,) = [item for item in emulator.state()["dataSources"] if item["id"] == ds.webex_id]
    return source["jwsToken"]


def jwks_fetches(emulator) -> int:
    return len(emulator.requests_log(path="/oauth2/v2/keys/verificationjwk"))


@pytest.mark.django_db
def test_a_key_rotation_at_webex_costs_one_refetch(register, emulator, monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(jws.jwks_cache, "_clock", clock)
    ds = register()
    old_token = current_jws(emulator, ds)
    assert jws_verify(old_token).nonce == "current"
    assert jwks_fetches(emulator) == 1

    new_kid = emulator.rotate_keys()["kid"]
    assert datasource_rotate(ds_id=ds.pk, actor=SYSTEM, force=True).outcome == "rotated"
    new_token = current_jws(emulator, ds)
    clock.now += 60  # past the refetch interval, well inside the cache lifetime
    verified = jws_verify(new_token)
    assert (verified.kid, verified.nonce) == (new_kid, "current")
    assert jwks_fetches(emulator) == 2
    # The old token (old key, previous nonce) still verifies from the cache.
    assert jws_verify(old_token).nonce == "previous"
    assert jws_verify(new_token).nonce == "current"
    assert jwks_fetches(emulator) == 2


@pytest.mark.django_db
def test_a_token_signed_by_an_unpublished_key_is_refused(register, emulator):
    ds = register()
    token = current_jws(emulator, ds)
    assert jws_verify(token).nonce == "current"
    emulator.rotate_keys()
    emulator.rotate_keys()  # the key that signed `token` is no longer published
    jws.jws_caches_clear()
    with pytest.raises(jws.Refusal) as excinfo:
        jws_verify(token)
    assert excinfo.value.code == Code.UNKNOWN_KEY


def _decide(authorization: str | None) -> tuple[int, dict]:
    """The receiver: what a partner's gRPC or web socket server does with the presented token."""
    try:
        return jws_verify_for_api(authorization or "")
    finally:
        connection.close()  # this thread's own connection: the flush after the test needs it gone


def _present(receiver: LoopbackReceiver, token: str) -> tuple[int, dict]:
    """Present a token we kept (as a replay would) straight to the receiver."""
    response = requests.post(receiver.url, headers={"Authorization": token}, timeout=10)
    return response.status_code, response.json()


def _deliver(emulator, ds, receiver: LoopbackReceiver) -> tuple[int, dict, str]:
    """Webex (the emulator) presents the current JWS; the receiver's answer and the token."""
    result = emulator.deliver(ds.webex_id, receiver.url)
    return result["status"], json.loads(result["body"]), receiver.received[-1]["authorization"]


# The receiver runs in its own thread with its own database connection, so the data must be
# committed: a transactional test.
@pytest.mark.django_db(transaction=True)
def test_rotation_end_to_end_new_token_accepted_old_until_it_expires(register, emulator, settings):
    # Assert each refusal the moment it applies; the cache's bounded delay is tested apart.
    settings.JWS_DATASOURCE_CACHE_SECONDS = 0
    leeway = settings.JWS_LEEWAY_SECONDS
    ds = register(token_lifetime_minutes=5)
    start = timezone.now()
    with LoopbackReceiver(_decide) as receiver:
        status, body, token1 = _deliver(emulator, ds, receiver)
        assert (status, body["valid"], body["nonce"]) == (200, True, "current")
        assert body["dataSource"]["id"] == str(ds.public_id)

        # Four minutes later (both clocks), the data source is rotated.
        emulator.advance_clock(240)
        with time_machine.travel(start + dt.timedelta(seconds=240), tick=True):
            assert datasource_rotate(ds_id=ds.pk, actor=SYSTEM, force=True).outcome == "rotated"
            status, body, token2 = _deliver(emulator, ds, receiver)
            assert token2 != token1
            assert (status, body["nonce"]) == (200, "current")
            # The old token is still accepted while it lives: the rotation overlap.
            status, body = _present(receiver, token1)
            assert (status, body["nonce"]) == (200, "previous")

        # Past the old token's expiry (5 minutes after it was issued, plus the leeway).
        emulator.advance_clock(60 + leeway + 10)
        with time_machine.travel(start + dt.timedelta(seconds=300 + leeway + 10), tick=True):
            status, body = _present(receiver, token1)
            assert (status, body["valid"], body["code"]) == (200, False, "expired")
            status, body, _ = _deliver(emulator, ds, receiver)
            assert (status, body["nonce"]) == (200, "current")

            # Two more rotations: token2 is unexpired but two nonces old now.
            assert datasource_rotate(ds_id=ds.pk, actor=SYSTEM, force=True).outcome == "rotated"
            status, body = _present(receiver, token2)
            assert (status, body["nonce"]) == (200, "previous")
            assert datasource_rotate(ds_id=ds.pk, actor=SYSTEM, force=True).outcome == "rotated"
            status, body = _present(receiver, token2)
            assert (status, body["code"]) == (200, "stale_nonce")
            status, body, _ = _deliver(emulator, ds, receiver)
            assert (status, body["nonce"]) == (200, "current")
