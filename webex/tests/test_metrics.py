"""The per-process ledger of Webex calls: labels that stay few, counts that are never lost."""

import threading

import pytest

from webex.metrics import (
    BUCKETS,
    TRANSPORT_ERROR,
    CallLedger,
    bucket_index,
    endpoint_label,
    is_error,
)


@pytest.mark.parametrize(
    ("method", "path", "label"),
    [
        (
            "PUT",
            "/v1/dataSources/Y2lzY29zcGFyazovL3VzL0RBVEFfU09VUkNFLzEyMzQ",
            "PUT /v1/dataSources/{id}",
        ),
        ("GET", "/v1/dataSources", "GET /v1/dataSources"),
        ("POST", "/idb/oauth2/v1/access_token", "POST /idb/oauth2/v1/access_token"),
        ("POST", "/v1/applications/Y2lz123/token", "POST /v1/applications/{id}/token"),
        (
            "GET",
            "/v1/dataSources/schemas/5397013b-7920-4ffc-807c-e8a3e0a18f43",
            "GET /v1/dataSources/schemas/{id}",
        ),
    ],
)
def test_ids_leave_the_endpoint_label(method, path, label):
    assert endpoint_label(method, path) == label


def test_errors_are_no_answer_server_errors_and_rate_limits():
    assert [is_error(s) for s in (TRANSPORT_ERROR, "500", "503", "429")] == [True] * 4
    assert [is_error(s) for s in ("200", "204", "404", "401", "400")] == [False] * 5


def test_bucket_bounds_are_inclusive_and_the_last_is_inf():
    assert bucket_index(0.0) == 0
    assert bucket_index(BUCKETS[0]) == 0
    assert bucket_index(BUCKETS[0] + 0.001) == 1
    assert bucket_index(BUCKETS[-1] + 1) == len(BUCKETS)


def test_drain_returns_what_was_recorded_and_starts_again():
    ledger = CallLedger()
    ledger.record(method="PUT", path="/v1/dataSources/abc123", status="200", seconds=0.04)
    ledger.record(method="PUT", path="/v1/dataSources/def456", status="200", seconds=0.2)
    ledger.record(method="PUT", path="/v1/dataSources/def456", status="503", seconds=1.5)
    drained = ledger.drain()
    assert drained.calls[("PUT /v1/dataSources/{id}", "200")] == [2, pytest.approx(0.24)]
    assert drained.calls[("PUT /v1/dataSources/{id}", "503")][0] == 1
    buckets = drained.buckets["PUT /v1/dataSources/{id}"]
    assert sum(buckets) == 3 and buckets[bucket_index(0.04)] == 1
    assert [sum(v) for v in drained.minutes.values()] == [3]
    assert sum(v[1] for v in drained.minutes.values()) == 1  # the 503
    assert drained.last_ok is not None
    assert not ledger.drain()


def test_restore_puts_back_counts_a_failed_flush_could_not_store():
    ledger = CallLedger()
    ledger.record(method="GET", path="/v1/dataSources", status="200", seconds=0.1)
    drained = ledger.drain()
    ledger.record(method="GET", path="/v1/dataSources", status="200", seconds=0.1)
    ledger.restore(drained)
    again = ledger.drain()
    assert again.calls[("GET /v1/dataSources", "200")][0] == 2
    assert sum(again.buckets["GET /v1/dataSources"]) == 2
    assert sum(ok for ok, _ in again.minutes.values()) == 2


def test_no_count_is_lost_between_threads():
    ledger = CallLedger()

    def work():
        for _ in range(2000):
            ledger.record(method="PUT", path="/v1/dataSources/x1", status="200", seconds=0.01)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ledger.drain().calls[("PUT /v1/dataSources/{id}", "200")][0] == 16000
