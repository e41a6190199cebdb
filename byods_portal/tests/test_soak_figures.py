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


# ------------------------------------------------------------------ storms and single flight
def at(seconds):
    return T0 + dt.timedelta(seconds=seconds)


def put(ds, arrived, ms, tracking, nonce, method="PUT"):
    """A request log entry as `/_emulator/requests` gives it: written when the call ended."""
    ended = at(arrived) + dt.timedelta(milliseconds=ms)
    return {
        "method": method,
        "path": f"/v1/dataSources/{ds}",
        "time": ended.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "durationMs": ms,
        "trackingId": tracking,
        "nonce": nonce,
    }


def burst(ds, start, end, answers=("rotated", "in_progress")):
    return {
        "dataSource": f"pub-{ds}",
        "webexId": ds,
        "start": at(start),
        "end": at(end),
        "answers": list(answers),
    }


def test_a_storm_that_reached_webex_once_is_one_new_nonce(soak):
    log = [
        put("a", 5, 50, "sweep-1", "n1"),  # before the storm: not counted
        put("a", 100.1, 50, "storm-1", "n2"),  # the storm's rotation
        put("a", 100.3, 50, "storm-2", "n2"),  # its pending nonce re-sent after a 500: not new
        put("a", 100.5, 20, "storm-3", None),  # a fault before Webex read the body
        put("b", 100.2, 50, "other", "m1"),  # another data source
        put("a", 170, 50, "sweep-2", "n3"),  # after the storm
    ]
    storms = [burst("a", 100, 101, ["rotated", "failed", *["in_progress"] * 8])]
    result = soak.storm_figures(storms, log)
    assert result["most_new"] == 1 and result["new_per_burst"] == {1: 1} and not result["over"]
    assert (result["puts"], result["unlogged"], result["requests"]) == (3, 1, 10)
    assert result["answers"] == {"rotated": 1, "failed": 1, "in_progress": 8}


def test_a_pending_nonce_first_sent_before_the_storm_is_not_new_in_it(soak):
    log = [put("a", 99, 3000, "sweep-1", "n1"), put("a", 102.2, 50, "sweep-1", "n1")]
    result = soak.storm_figures([burst("a", 100, 103)], log)
    assert result["new_per_burst"] == {0: 1} and result["puts"] == 1


def test_two_rotations_in_one_storm_are_caught(soak):
    log = [put("a", 100.1, 50, "storm-1", "n1"), put("a", 100.4, 50, "storm-2", "n2")]
    result = soak.storm_figures([burst("a", 100, 101), burst("b", 100, 101)], log)
    assert result["most_new"] == 2 and result["new_per_burst"] == {0: 1, 2: 1}
    assert [b["newNonces"] for b in result["over"]] == [["n1", "n2"]]


def test_a_nonce_sent_twice_at_once_by_two_callers_is_caught(soak):
    # The bug single flight fixed: callers finding a pending nonce each re-sent it while the
    # first attempt was still at Webex. One nonce, so not "new" twice and, accepted twice in
    # a row, folded as a resend by nonce_figures: the overlap is what catches it.
    log = [put("a", 100.1, 300, "storm-1", "n1"), put("a", 100.2, 300, "storm-2", "n1")]
    assert soak.storm_figures([burst("a", 100, 101)], log)["most_new"] == 1
    found = soak.concurrent_puts(log)
    assert len(found) == 1
    assert (found[0]["first"]["trackingId"], found[0]["second"]["trackingId"]) == (
        "storm-1",
        "storm-2",
    )
    assert found[0]["second"]["nonce"] == "n1"


def test_a_nonce_that_comes_back_after_another_is_reuse_even_in_a_storm(soak):
    history = [entry("a", 0, "n1"), entry("a", 60, "n2"), entry("a", 100, "n1")]
    assert soak.nonce_figures(history, T0 + dt.timedelta(seconds=110), {})["reused"] == 1


def test_a_client_retry_and_calls_one_after_another_do_not_overlap(soak):
    log = [
        # No answer within the read timeout: the client retries with the same trackingId
        # while Webex still holds the first attempt (a timeout fault applies it late).
        put("a", 10, 4050, "rot-1", "n1"),
        put("a", 13.3, 50, "rot-1", "n1"),
        # The next caller once the lease was released: after the last call ended.
        put("a", 14.06, 50, "rot-2", "n1"),
        # A millisecond of rounding at the boundary is no overlap either.
        put("a", 14.105, 40, "rot-3", "n2"),
        # Two data sources at once are fine.
        put("b", 10, 4050, "other", "m1"),
        put("a", 30, 50, "rot-4", "n3", method="POST"),  # not a PUT
    ]
    assert soak.concurrent_puts(log) == []


def test_a_caller_beside_an_unanswered_call_is_caught(soak):
    # The unanswered call (held 4 s at Webex) is still there when another caller's PUT arrives.
    log = [put("a", 10, 4050, "rot-1", "n1"), put("a", 13.5, 50, "edit-1", "e1")]
    found = soak.concurrent_puts(log)
    assert [(f["first"]["nonce"], f["second"]["nonce"]) for f in found] == [("n1", "e1")]


def test_answers_that_are_no_outcome_are_placed_in_the_phase_their_burst_began_in(soak):
    phases = {"broker restarted": at(50), "broker back": at(53)}
    storms = [
        burst("a", 10, 11, ["rotated", "HTTP 429"]),
        burst("b", 51, 52, ["HTTP 500", "HTTP 500", "ConnectionError", "in_progress"]),
        burst("c", 60, 61, ["rotated", "already_rotated"]),
    ]
    result = soak.storm_figures(storms, [], phases)
    assert result["errors_by_phase"] == {
        "setup": {"HTTP 429": 1},
        "broker restarted": {"HTTP 500": 2, "ConnectionError": 1},
    }
    assert result["answers"]["HTTP 500"] == 2 and result["requests"] == 8
