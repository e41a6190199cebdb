"""scripts/soak.py judges the emulator's nonce history correctly (the figures it prints)."""

import datetime as dt
import importlib.util
import sys
from pathlib import Path

import pytest

SOAK = Path(__file__).resolve().parents[2] / "scripts" / "soak.py"
T0 = dt.datetime(2026, 1, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def soak():
    spec = importlib.util.spec_from_file_location("soak_script", SOAK)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def entry(ds, seconds, nonce):
    at = (T0 + dt.timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")
    return {"dataSourceId": ds, "time": at, "nonce": nonce}


def test_rotations_in_time_give_clean_figures(soak):
    history = [entry("a", 0, "n1"), entry("a", 70, "n2"), entry("a", 140, "n3")]
    result = soak.nonce_figures(history, T0 + dt.timedelta(seconds=200), {})
    assert (result["lapsed"], result["reused"], result["resends"]) == (0, 0, 0)
    assert result["worst"] == 50.0 and result["changes"] == {"a": 3}


def test_a_late_rotation_is_a_lapse_placed_after_the_disturbance_before_it(soak):
    phases = {"worker killed": T0 + dt.timedelta(seconds=100)}
    history = [entry("a", 0, "n1"), entry("a", 130, "n2")]
    result = soak.nonce_figures(history, T0 + dt.timedelta(seconds=200), phases)
    assert result["lapsed"] == 1 and result["worst"] == -10.0
    assert result["lapses_by_phase"] == {"worker killed": 1}


def test_a_token_expired_at_the_end_is_a_lapse_counted_once(soak):
    ended = T0 + dt.timedelta(seconds=150)
    assert soak.nonce_figures([entry("a", 0, "n1")], ended, {})["lapsed"] == 1
    # ...also when a drain rotation came after the end.
    history = [entry("a", 0, "n1"), entry("a", 160, "n2")]
    assert soak.nonce_figures(history, ended, {})["lapsed"] == 1


def test_a_resend_of_the_pending_nonce_is_not_reuse_but_a_comeback_is(soak):
    ended = T0 + dt.timedelta(seconds=100)
    resend = [entry("a", 0, "n1"), entry("a", 60, "n2"), entry("a", 61, "n2")]
    result = soak.nonce_figures(resend, ended, {})
    assert (result["reused"], result["resends"], result["changes"]) == (0, 1, {"a": 2})
    comeback = [entry("a", 0, "n1"), entry("a", 60, "n2"), entry("a", 90, "n1")]
    assert soak.nonce_figures(comeback, ended, {})["reused"] == 1
    shared = [entry("a", 0, "n1"), entry("b", 10, "n1")]
    assert soak.nonce_figures(shared, ended, {})["reused"] == 1


def test_fault_rules_add_up_to_the_fault_rate(soak):
    rules = soak.fault_rules()
    miss = 1.0
    for rule in rules:
        miss *= 1 - rule["rate"]
    assert 1 - miss == pytest.approx(soak.FAULT_RATE)
    assert {r["kind"] for r in rules} == {"status", "timeout", "reset"}
