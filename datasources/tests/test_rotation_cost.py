"""The rotation's cost-cutting keeps its guarantees: few statements per rotation (fewer still
in a batch, whose groups share each statement), a token read once per batch, one conditional
UPDATE that writes only the rotation's own fields, call threads that need no database."""

import datetime as dt

import pytest
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from datasources import services, tasks
from datasources.models import DataSource
from tenants.models import OrgToken
from webex.client import WebexClient
from webex.types import DataSource as RemoteDataSource

from .conftest import SYSTEM

# Write-ahead: lock-read the row, record the nonce, mark it pending. Completion: update the
# row, the nonce record, bump the dashboard's hourly outcome counter (one upsert), and append
# the audit event (read-lock the chain head, insert, move the head). Counted inside the test's
# transaction, so each atomic block adds a savepoint and its release: 3 + 6 statements
# + 2 x 2 = 13. Before: 14 without the counter, plus a fresh connection each time.
QUERIES_PER_ROTATION = 13
# A batch makes the same statements once per group of `group` rotations, not once per rotation.
GROUP = 8


def test_apply_remote_writes_only_the_listed_fields():
    """`datasource_rotate` writes APPLIED_FIELDS with one UPDATE: a field `_apply_remote`
    sets but the list misses would silently never be stored."""
    now = timezone.now()
    ds = DataSource(
        nonce="old",
        pending_nonce="pending",
        previous_nonce="older",
        token_lifetime_minutes=60,
        consecutive_failures=3,
        last_error="boom",
        last_tracking_id="T",
        at_risk_alerted_at=now,
        claimed_until=now,
        inflight_until=now,
        last_rotated_at=now - dt.timedelta(hours=1),
        token_expires_at=now,
        previous_token_expires_at=now - dt.timedelta(hours=1),
        next_rotation_at=now,
    )
    before = {f.attname: getattr(ds, f.attname) for f in DataSource._meta.concrete_fields}
    remote = RemoteDataSource.from_json(
        {"id": "w", "nonce": "pending", "tokenExpiryTime": "2099-01-01T00:00:00Z"}
    )
    services._apply_remote(ds, remote, now + dt.timedelta(seconds=1))
    after = {f.attname: getattr(ds, f.attname) for f in DataSource._meta.concrete_fields}
    changed = {name for name in before if before[name] != after[name]}
    assert changed == set(services.APPLIED_FIELDS)


def test_a_rotation_costs_few_queries_and_reads_the_token_once_per_batch(register, emulator):
    first, second = register(), register(url="https://rx2.byods.example.com/feed")
    tokens = services.AccessTokens()
    services.datasource_rotate(ds_id=first.pk, force=True, actor=SYSTEM, tokens=tokens)
    from django.db import connection

    with CaptureQueriesContext(connection) as queries:
        result = services.datasource_rotate(
            ds_id=second.pk, force=True, actor=SYSTEM, tokens=tokens
        )
    assert result.outcome == "rotated"
    sql = [q["sql"] for q in queries.captured_queries]
    assert not [s for s in sql if "tenants_orgtoken" in s]  # the batch's token was reused
    assert len(sql) <= QUERIES_PER_ROTATION, "\n".join(sql)
    assert AuditEvent.objects.filter(action="datasource.rotated").count() == 2


def test_a_batch_shares_each_statement_across_a_group(register, emulator):
    """16 rotations in groups of 8: the 13 statements of one rotation, twice, and one read of
    the org's token; one audit event per rotation, chained in order."""
    from django.db import connection

    sources = [register(url=f"https://rx{i}.byods.example.com/feed") for i in range(2 * GROUP)]
    with CaptureQueriesContext(connection) as queries:
        outcomes, errors = services.datasources_rotate_many(
            [s.pk for s in sources], force=True, actor=SYSTEM, group=GROUP
        )
    assert outcomes == {"rotated": 2 * GROUP} and not errors
    sql = [q["sql"] for q in queries.captured_queries]
    audit_inserts = [s for s in sql if s.startswith('INSERT INTO "audit_auditevent"')]
    if connection.vendor == "postgresql":  # elsewhere update_where writes row by row
        assert len(sql) <= 2 * QUERIES_PER_ROTATION + 1, "\n".join(sql)
        assert 1 <= len(audit_inserts) <= 2  # one per completed group, or one for all
    assert len([s for s in sql if "tenants_orgtoken" in s]) == 1
    fresh = {ds.pk: ds for ds in DataSource.objects.filter(pk__in=[s.pk for s in sources])}
    for before in sources:
        after = fresh[before.pk]
        assert after.version == before.version + 1 and after.pending_nonce == ""
        assert after.nonce != before.nonce and after.inflight_until is None
    events = list(AuditEvent.objects.filter(action="datasource.rotated").order_by("id"))
    assert sorted(e.target_id for e in events) == sorted(str(s.public_id) for s in sources)
    assert all(
        later.prev_hash == earlier.hash for earlier, later in zip(events, events[1:], strict=False)
    )


def test_a_batch_completes_only_rows_whose_pending_nonce_is_still_the_one_sent(
    register, emulator, monkeypatch
):
    """The group's single UPDATE is conditional per row: a row whose pending nonce changed
    during the call (another rotation completed and a new one started) keeps the newer state,
    and gets no audit event or nonce outcome from the stale answer."""
    a, b = register(), register(url="https://rx2.byods.example.com/feed")
    real = WebexClient.update_datasource

    def meanwhile(self, **kwargs):
        if kwargs["datasource_id"] == b.webex_id:
            DataSource.objects.filter(pk=b.pk).update(pending_nonce="changed-meanwhile")
        return real(self, **kwargs)

    monkeypatch.setattr(WebexClient, "update_datasource", meanwhile)
    outcomes, errors = services.datasources_rotate_many([a.pk, b.pk], force=True, actor=SYSTEM)
    assert outcomes == {"rotated": 1, "skipped": 1} and not errors
    assert DataSource.objects.get(pk=b.pk).pending_nonce == "changed-meanwhile"
    assert DataSource.objects.get(pk=b.pk).version == b.version
    assert DataSource.objects.get(pk=a.pk).version == a.version + 1
    rotated = AuditEvent.objects.filter(action="datasource.rotated")
    assert [e.target_id for e in rotated] == [str(a.public_id)]


def test_a_cached_token_that_expired_is_refreshed_once_and_replaced(register, emulator):
    first, second = register(), register(url="https://rx2.byods.example.com/feed")
    token = OrgToken.objects.get(org=first.org)
    tokens = services.AccessTokens()
    services.datasource_rotate(ds_id=first.pk, force=True, actor=SYSTEM, tokens=tokens)
    emulator.advance_clock(15 * 86400)  # the cached access token expired at Webex
    assert (
        services.datasource_rotate(ds_id=second.pk, force=True, actor=SYSTEM, tokens=tokens)
    ).outcome == "rotated"
    assert OrgToken.objects.get(org=first.org).version == token.version + 1
    assert tokens.get(first.org)[1] == token.version + 1  # the batch now holds the new one
    assert len(emulator.requests_log(path="/v1/access_token")) == 1


def test_a_change_made_during_the_call_is_kept_by_the_completion(register, emulator, monkeypatch):
    """The completion writes only the rotation's fields: a maintenance window scheduled while
    the call was in flight (it does not clear the pending nonce) is not overwritten."""
    ds = register()
    real = WebexClient.update_datasource
    start = timezone.now() + dt.timedelta(hours=1)

    def schedule_meanwhile(self, **kwargs):
        services.datasource_schedule_maintenance(
            ds=ds,
            disable_at=start,
            enable_at=start + dt.timedelta(hours=1),
            message="Upgrade",
            actor=SYSTEM,
        )
        return real(self, **kwargs)

    monkeypatch.setattr(WebexClient, "update_datasource", schedule_meanwhile)
    assert services.datasource_rotate(ds_id=ds.pk, force=True, actor=SYSTEM).outcome == "rotated"
    fresh = DataSource.objects.get(pk=ds.pk)
    assert fresh.maintenance_message == "Upgrade" and fresh.maintenance_disable_at == start
    assert fresh.nonce != ds.nonce and fresh.pending_nonce == "" and fresh.version == ds.version + 1


def test_an_edit_during_the_call_is_refused_until_the_rotation_is_back(
    register, emulator, monkeypatch
):
    """Two PUTs of one data source at once could land at Webex in either order (the rotation's
    old URL after the edit's new one): while one is in flight, an edit is refused, unsent."""
    ds = register()
    real = WebexClient.update_datasource
    calls, refusals = [], []

    def edit_meanwhile(self, **kwargs):
        calls.append(kwargs["request"].nonce)
        if len(calls) == 1:  # the rotation's call: an operator's edit arrives meanwhile
            try:
                services.datasource_update(
                    ds=DataSource.objects.get(pk=ds.pk),
                    schema_id=ds.schema_id,
                    url="https://rx-new.byods.example.com/feed",
                    audience=ds.audience,
                    subject=ds.subject,
                    token_lifetime_minutes=ds.token_lifetime_minutes,
                    actor=SYSTEM,
                )
            except services.DataSourceBusy as exc:
                refusals.append(exc.reason)
        return real(self, **kwargs)

    monkeypatch.setattr(WebexClient, "update_datasource", edit_meanwhile)
    result = services.datasource_rotate(ds_id=ds.pk, force=True, actor=SYSTEM)
    assert result.outcome == "rotated" and len(calls) == 1
    assert refusals and "in flight at Webex" in refusals[0]
    fresh = DataSource.objects.get(pk=ds.pk)
    assert fresh.url == ds.url and fresh.nonce == calls[0] and fresh.inflight_until is None
    assert not AuditEvent.objects.filter(action="datasource.updated").exists()


@pytest.mark.django_db(transaction=True)
def test_a_batch_attempts_every_data_source_then_raises_the_unexpected(
    register, emulator, monkeypatch
):
    sources = [register(url=f"https://rx{i}.byods.example.com/x") for i in range(4)]
    real = WebexClient.update_datasource

    def flaky(self, **kwargs):
        if kwargs["datasource_id"] == sources[1].webex_id:
            raise RuntimeError("our own bug, not Webex's answer")
        return real(self, **kwargs)

    monkeypatch.setattr(WebexClient, "update_datasource", flaky)
    with pytest.raises(RuntimeError, match="our own bug"):
        tasks.rotate_batch([s.pk for s in sources], force=True)
    rotated = DataSource.objects.filter(version=2).values_list("pk", flat=True)
    assert sorted(rotated) == sorted(s.pk for i, s in enumerate(sources) if i != 1)
    # The failed attempt is over: its lease is released, so a retry may go out at once.
    assert DataSource.objects.get(pk=sources[1].pk).inflight_until is None


@pytest.mark.django_db(transaction=True)
def test_call_threads_need_no_database_connection(register, emulator, settings):
    """The batch's database work runs on the task's own connection, in groups; the rotation
    threads only call Webex (the batch reads the org's token before handing calls out)."""
    from django.db import connection

    settings.DATABASES["default"]["CONN_MAX_AGE"] = 60
    settings.ROTATION_CONCURRENCY = 2
    tasks.stop_rotation_threads()
    sources = [register(url=f"https://rx{i}.byods.example.com/x") for i in range(8)]
    emulator.set_latency(50)  # both threads get work

    def backends() -> set[int]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            )
            return {row[0] for row in cursor.fetchall()}

    if connection.vendor != "postgresql":
        pytest.skip("counts PostgreSQL backends")
    try:
        assert tasks.rotate_batch([s.pk for s in sources[:4]], force=True) == {"rotated": 4}
        assert tasks.rotate_batch([s.pk for s in sources[4:]], force=True) == {"rotated": 4}
        assert len(emulator.requests_log(method="PUT")) == 8
        assert backends() == set()  # no thread opened a connection of its own
    finally:
        tasks.stop_rotation_threads()


@pytest.mark.django_db(transaction=True)
def test_a_threaded_batch_stores_each_answer_its_own_way(register, emulator, settings):
    """Calls in threads, groups of 2: Webex accepts some, refuses one with 429 and one with
    404; each outcome is stored as a lone rotation would store it, and the accepted nonces
    are the ones Webex holds."""
    settings.ROTATION_CONCURRENCY, settings.ROTATION_GROUP_SIZE = 3, 2
    tasks.stop_rotation_threads()
    sources = [register(url=f"https://rx{i}.byods.example.com/x") for i in range(6)]
    limited, gone = sources[1], sources[4]
    emulator.set_faults(
        [
            {"method": "PUT", "pathRegex": limited.webex_id, "kind": "status", "status": 429}
            | {"retryAfter": 120},
            {"method": "PUT", "pathRegex": gone.webex_id, "kind": "status", "status": 404},
        ]
    )
    try:
        outcomes = tasks.rotate_batch([s.pk for s in sources], force=True)
    finally:
        tasks.stop_rotation_threads()
    assert outcomes == {"rotated": 4, "rate_limited": 1, "missing": 1}
    fresh = {ds.pk: ds for ds in DataSource.objects.filter(pk__in=[s.pk for s in sources])}
    assert fresh[limited.pk].pending_nonce and fresh[limited.pk].nonce == limited.nonce
    assert fresh[gone.pk].missing_at_webex_since is not None
    accepted = {e["nonce"] for e in emulator.requests_log(method="PUT") if e["status"] == 200}
    for ds in sources:
        if ds.pk not in (limited.pk, gone.pk):
            assert fresh[ds.pk].nonce in accepted and fresh[ds.pk].pending_nonce == ""
            assert fresh[ds.pk].inflight_until is None
    assert AuditEvent.objects.filter(action="datasource.rotated").count() == 4
    assert AuditEvent.objects.filter(action="datasource.rotation_failed").count() == 1
    assert AuditEvent.objects.filter(action="datasource.drift_found").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_401_in_the_call_threads_refreshes_the_token_once_under_the_batch_identity(
    register, emulator, settings
):
    """The org's access token expired at Webex: the first call thread to get a 401 refreshes
    it (single flight: the others wait for it and reuse it), the refresh is audited as the
    rotation system with the batch's correlation id, and every data source rotates."""
    settings.ROTATION_CONCURRENCY, settings.ROTATION_GROUP_SIZE = 4, 4
    tasks.stop_rotation_threads()
    sources = [register(url=f"https://rx{i}.byods.example.com/x") for i in range(8)]
    emulator.advance_clock(15 * 86400)
    try:
        assert tasks.rotate_batch([s.pk for s in sources], force=True) == {"rotated": 8}
    finally:
        tasks.stop_rotation_threads()
    assert len(emulator.requests_log(path="/v1/access_token")) == 1
    refreshed = AuditEvent.objects.get(action="org.tokens_refreshed")
    rotated = AuditEvent.objects.filter(action="datasource.rotated")
    assert refreshed.actor == "system:rotation"
    assert {e.correlation_id for e in rotated} == {refreshed.correlation_id}


def test_a_call_that_waited_past_its_queue_slack_is_not_sent(register, emulator, monkeypatch):
    """A call written ahead that found no free thread in time (every thread stuck on a slow
    Webex) could outlive its lease once sent, while the next sweep re-sends the nonce: it is
    dropped unsent, and the row keeps its pending nonce and lease for the next attempt."""
    from core import policy

    sources = [register(url=f"https://rx{i}.byods.example.com/x") for i in range(3)]
    emulator.clear_requests_log()
    monkeypatch.setattr(policy, "queue_slack", lambda p=None: dt.timedelta(0))
    outcomes, errors = services.datasources_rotate_many(
        [s.pk for s in sources], force=True, actor=SYSTEM
    )
    assert outcomes == {"skipped": 3} and not errors
    assert emulator.requests_log(method="PUT") == []
    for before in sources:
        row = DataSource.objects.get(pk=before.pk)
        assert row.pending_nonce and row.nonce == before.nonce and row.version == before.version
        assert row.inflight_until and row.inflight_until > timezone.now()  # still its lease
    monkeypatch.undo()
    # While that lease holds, nothing else sends for these data sources.
    assert services.datasource_rotate(ds_id=sources[0].pk, force=True, actor=SYSTEM).outcome == (
        "in_progress"
    )
    assert emulator.requests_log(method="PUT") == []
