"""The rotation engine: claiming due data sources, rotating one (write-ahead nonce, the call,
one conditional UPDATE), and what follows a failed call. `_apply_remote` and the fields it
assigns (`APPLIED_FIELDS`) also serve every other change Webex accepts with a new nonce."""

from __future__ import annotations

import datetime as dt
import functools
import queue
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from audit.context import Actor, log_scope
from audit.services import audit_record, audit_record_many
from audit.vocabulary import Action
from core import policy as rules
from core.bulk import update_where
from core.webex_adapter import explain, webex_client_for
from stats.counters import record_rotation_outcome
from tenants.models import CustomerOrg
from webex.client import WebexClient
from webex.errors import WebexError, WebexNotFound, WebexRateLimited
from webex.types import DataSource as RemoteDataSource

from ..models import DataSource, NonceRecord
from ._common import _request, new_nonce
from .calls import AccessTokens, _expiry, _in_flight, _settled_after, _with_refresh
from .expiry import expiry_apply

Status = DataSource.Status


def _next_rotation(expires_at: dt.datetime | None, lifetime_minutes: int, now: dt.datetime):
    return rules.next_rotation_at(expires_at=expires_at, lifetime_minutes=lifetime_minutes, now=now)


# Every column `_apply_remote` assigns: the rotation writes exactly these with one UPDATE.
# Keep in step with it (test_apply_remote_writes_only_the_listed_fields checks).
APPLIED_FIELDS = (
    "previous_nonce",
    "previous_token_expires_at",
    "nonce",
    "pending_nonce",
    "token_expires_at",
    "expiry_skew_since",
    "expiry_reported_at",
    "expiry_skew_detail",
    "last_rotated_at",
    "next_rotation_at",
    "consecutive_failures",
    "last_error",
    "last_tracking_id",
    "at_risk_alerted_at",
    "claimed_until",
    "inflight_until",
    "version",
)


def _apply_remote(ds: DataSource, remote: RemoteDataSource, now: dt.datetime) -> None:
    """Webex accepted a payload with a new nonce: it is now the current one."""
    if ds.nonce != remote.nonce:
        ds.previous_nonce, ds.previous_token_expires_at = ds.nonce, ds.token_expires_at
    ds.nonce = remote.nonce
    ds.pending_nonce = ""
    expiry_apply(ds, _expiry(remote), now)  # bounded by now + lifetime; skew flagged
    ds.last_rotated_at = now
    ds.next_rotation_at = (
        _next_rotation(ds.token_expires_at, ds.token_lifetime_minutes, now)
        if ds.status == Status.ACTIVE
        else None
    )
    ds.consecutive_failures = 0
    ds.last_error = ds.last_tracking_id = ""
    ds.at_risk_alerted_at = None
    ds.claimed_until = None
    ds.inflight_until = None
    ds.version += 1


@dataclass(frozen=True)
class RotationResult:
    # rotated | skipped | paused | rate_limited | failed | missing | in_progress | already_rotated
    outcome: str
    detail: str = ""


def datasource_claim_due(*, limit: int = 500) -> list[int]:
    """Claim due data sources so that no two sweeps or workers rotate the same one.

    PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED` over the partial index, then one UPDATE.
    Elsewhere: a conditional UPDATE per candidate. Cost follows the number due, not the total.
    """
    now = timezone.now()
    lease = rules.lease_until(now)
    due = (
        DataSource.objects.filter(status=Status.ACTIVE, next_rotation_at__lte=now)
        .exclude(claimed_until__gt=now)
        .order_by("next_rotation_at")
    )
    if connection.vendor == "postgresql":
        with transaction.atomic():
            # Walk the partial index in deadline order instead of a bitmap scan. Every rotation
            # moves next_rotation_at forward, leaving a dead index entry in the due range until
            # vacuum; a bitmap scan visits the heap page of each one on every sweep (1,900
            # pages for 100 due rows in the 100k bench), while an index scan marks them dead on
            # first sight so later sweeps skip them (200 pages). Transaction-local setting.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL enable_bitmapscan = off")
            ids = list(
                due.select_for_update(skip_locked=True, of=("self",)).values_list("pk", flat=True)[
                    :limit
                ]
            )
            DataSource.objects.filter(pk__in=ids).update(claimed_until=lease)
        return ids
    claimed = []
    for pk, claimed_until in due.values_list("pk", "claimed_until")[:limit]:
        if DataSource.objects.filter(pk=pk, claimed_until=claimed_until).update(
            claimed_until=lease
        ):
            claimed.append(pk)
    return claimed


def _held_until(ds: DataSource) -> str:
    """When the call in flight counts as over at the latest (its lease, or its settling)."""
    return f"{ds.inflight_until:%H:%M:%S} UTC" if ds.inflight_until else "now"


def _rotated_since(ds: DataSource, seen_version: int | None, now: dt.datetime) -> bool:
    """For "rotate now": did a rotation finish after the caller looked, or just now?"""
    if seen_version is not None and ds.version != seen_version:
        return True
    return rules.coalesces(ds.last_rotated_at, now)


# What a rotation reads with its row lock: the whole row, and of the org and its Service App
# only what it uses. Fewer columns to compile, fetch and build, and no app secrets to decrypt.
_ROTATION_COLUMNS = (
    *(f.name for f in DataSource._meta.concrete_fields),
    "org__status",
    "org__public_id",
    "org__service_app__region",
)


@dataclass
class _Attempt:
    """One rotation past its write-ahead: the row as read under the lock, the nonce it
    sends, when it was written ahead and when its call went out."""

    ds: DataSource
    nonce: str
    written_at: dt.datetime
    called_at: dt.datetime | None = None


class _LeaseLapsed(Exception):
    """A call written ahead waited past its queue slack: sent now, it could outlive its lease
    while another worker re-sends the pending nonce. It is not sent; its row is left as the
    write-ahead left it (pending nonce, lease), so the next sweep sends it once the lease ends."""


def datasource_rotate(
    *,
    ds_id: int,
    actor: Actor | None = None,
    force: bool = False,
    seen_version: int | None = None,
    tokens: AccessTokens | None = None,
) -> RotationResult:
    """Rotate one data source's JWS: new nonce, full payload, store the new expiry.

    The three steps of every rotation, for one data source (a batch runs the same steps for
    many, `datasources_rotate_many`):
    1. `_write_ahead`: under the row lock, decide whether to send and record the nonce;
    2. `_call`: the PUT, outside any transaction (a retry resends the same nonce);
    3. `_complete` (or `_rotation_failed`): store Webex's answer and its audit event.

    Single flight, whoever asks (sweep, button, API, bulk item):
    - a call already in flight for this data source (its lease not run out) is never joined
      by a second one: the answer is `in_progress`;
    - `force` (rotate now) after a rotation that finished since the caller looked
      (`seen_version`) or within SINGLE_FLIGHT_SECONDS answers `already_rotated`;
    - a pending nonce is re-sent only when the attempt that wrote it is known to be over
      (it failed with an answer, or its lease ran out because its worker died).
    """
    seen = {ds_id: seen_version} if seen_version is not None else {}
    attempts, refused = _write_ahead([ds_id], force=force, seen_versions=seen)
    if refused:
        return refused[ds_id]
    (attempt,) = attempts
    try:
        remote = _call(attempt, actor, tokens or AccessTokens())
    except WebexError as exc:
        return _rotation_failed(attempt, exc, actor)
    except _LeaseLapsed:
        return RotationResult("skipped", "its lease ran out before the call went out")
    except BaseException:
        _release(attempt)
        raise
    return _complete([(attempt, remote)], actor)[ds_id]


def _refusal(
    ds: DataSource, *, force: bool, seen_version: int | None, now: dt.datetime
) -> RotationResult | None:
    """Why this data source is not sent now (read under its row lock), or None to send it."""
    if ds.status != Status.ACTIVE or ds.deleted_at:
        return RotationResult("skipped", "disabled or deleted")
    if ds.org.status != CustomerOrg.Status.ACTIVE:
        return RotationResult("paused", f"org is {ds.org.status}")
    if ds.missing_at_webex_since:
        return RotationResult("missing", "gone at Webex")
    if _in_flight(ds, now):
        return RotationResult(
            "in_progress",
            f"a rotation or change is in flight at Webex (held until {_held_until(ds)})",
        )
    if force and not ds.pending_nonce and _rotated_since(ds, seen_version, now):
        return RotationResult(
            "already_rotated",
            f"a new JWS was issued moments ago, at {ds.last_rotated_at:%H:%M:%S} UTC "
            "(by another request, or the registration)",
        )
    if not force and ds.next_rotation_at and ds.next_rotation_at > now and not ds.pending_nonce:
        return RotationResult("skipped", "not due")
    return None


def _write_ahead(
    ds_ids: list[int], *, force: bool, seen_versions: dict[int, int]
) -> tuple[list[_Attempt], dict[int, RotationResult]]:
    """Step 1 for a group of data sources, in one transaction: lock their rows (in id order,
    so two groups never deadlock), decide for each, and for those sent take the in-flight
    lease and record the nonce first (a new one, or the pending one of an attempt known to be
    over). Returns the attempts to call and the answers of the others."""
    now = timezone.now()
    lease = rules.queued_lease_until(now)
    refused: dict[int, RotationResult] = {}
    attempts: list[_Attempt] = []
    with transaction.atomic():
        rows = (
            DataSource.objects.select_for_update(of=("self",))
            .select_related("org__service_app")
            .only(*_ROTATION_COLUMNS)
            .filter(pk__in=ds_ids)
            .order_by("pk")
        )
        for ds in rows:
            refusal = _refusal(ds, force=force, seen_version=seen_versions.get(ds.pk), now=now)
            if refusal:
                refused[ds.pk] = refusal
            else:
                attempts.append(_Attempt(ds, ds.pending_nonce or new_nonce(), now))
        for pk in set(ds_ids) - refused.keys() - {a.ds.pk for a in attempts}:
            refused[pk] = RotationResult("skipped", "no longer exists")
        paused = [pk for pk, result in refused.items() if result.outcome == "paused"]
        if paused:  # let the next sweep claim them again once the org is back
            DataSource.objects.filter(pk__in=paused).update(claimed_until=None)
        fresh = [a for a in attempts if not a.ds.pending_nonce]
        again = [a.nonce for a in attempts if a.ds.pending_nonce]
        NonceRecord.objects.bulk_create(
            NonceRecord(datasource=a.ds, nonce=a.nonce, purpose="rotate", attempts=1) for a in fresh
        )
        if again:  # the earlier attempt is over (failed, or its worker died): same nonce
            NonceRecord.objects.filter(nonce__in=again).update(attempts=F("attempts") + 1)
        update_where(
            DataSource,
            key="id",
            fields=("pending_nonce", "inflight_until"),
            rows=[(a.ds.pk, a.nonce, lease) for a in attempts],
        )
    for attempt in attempts:
        attempt.ds.pending_nonce, attempt.ds.inflight_until = attempt.nonce, lease
    return attempts, refused


def _call(
    attempt: _Attempt,
    actor: Actor | None,
    tokens: AccessTokens,
    client: WebexClient | None = None,
) -> RemoteDataSource:
    """Step 2: the PUT with the attempt's nonce. No transaction, and no database at all but
    for an org token the batch has not read yet (or a refresh after a 401)."""
    ds = attempt.ds
    client = client or webex_client_for(ds.org.service_app)
    attempt.called_at = timezone.now()
    if attempt.called_at - attempt.written_at > rules.queue_slack():
        raise _LeaseLapsed(ds.pk)
    with log_scope(datasource_id=ds.public_id):
        return _with_refresh(
            ds.org,
            lambda access: client.update_datasource(
                access_token=access,
                datasource_id=ds.webex_id,
                request=_request(ds, nonce=attempt.nonce, status="active"),
            ),
            actor,
            tokens,
        )


def _release(attempt: _Attempt) -> None:
    """Our own failure around the call, not Webex's: the attempt is over, let a retry in."""
    DataSource.objects.filter(pk=attempt.ds.pk, pending_nonce=attempt.nonce).update(
        inflight_until=None
    )


def _complete(
    done: list[tuple[_Attempt, RemoteDataSource]], actor: Actor | None
) -> dict[int, RotationResult]:
    """Step 3 for the answered calls of a group, in one transaction: one conditional UPDATE
    of their rows, one of their nonce records, the hourly counter, and one audit event each
    (appended together, in order, to the chain).

    A row is written only if its pending nonce is still the one sent. Every change to a row's
    content or status (edits, disable, delete, another rotation) clears the pending nonce
    under the row lock, so "pending nonce unchanged" means the row read in step 1 is still
    current. Only the rotation's own fields (APPLIED_FIELDS) are written: fields other
    services may change meanwhile without clearing it (maintenance schedule) keep theirs."""
    now = timezone.now()
    rows, expiries, events = [], {}, {}
    for attempt, remote in done:
        ds, before = attempt.ds, attempt.ds.token_expires_at
        _apply_remote(ds, remote, now)
        ds.inflight_until = _settled_after(None, now, attempt.called_at or now)
        rows.append((ds.pk, attempt.nonce, *(getattr(ds, name) for name in APPLIED_FIELDS), now))
        expiries[ds.pk] = (attempt.nonce, ds.token_expires_at)
        events[ds.pk] = {
            "action": Action.DATASOURCE_ROTATED,
            "summary": f"Rotated the JWS of {ds.url}",
            "actor": actor,
            "target_type": "datasource",
            "target_id": ds.public_id,
            "target_label": ds.url[:200],
            "org_id": ds.org.public_id,
            "changes": {
                "token_expires_at": {"before": before, "after": ds.token_expires_at},
                "version": {"before": ds.version - 1, "after": ds.version},
            },
        }
    with transaction.atomic():
        rotated = set(
            update_where(
                DataSource,
                key="id",
                match=("pending_nonce",),
                fields=(*APPLIED_FIELDS, "updated_at"),
                rows=rows,
            )
        )
        if rotated:
            ok = NonceRecord.Outcome.OK
            update_where(
                NonceRecord,
                key="nonce",
                fields=("outcome", "token_expires_at", "error", "tracking_id"),
                rows=[(expiries[pk][0], ok, expiries[pk][1], "", "") for pk in rotated],
            )
            record_rotation_outcome(outcome="rotated", count=len(rotated))
            # In the group's order, so the chain reads as the calls were answered.
            done_order = [a.ds.pk for a, _ in done if a.ds.pk in rotated]
            audit_record_many([events[pk] for pk in done_order])
    first = RotationResult("skipped", "another rotation completed first")
    return {a.ds.pk: RotationResult("rotated") if a.ds.pk in rotated else first for a, _ in done}


def datasources_rotate_many(
    ds_ids: list[int],
    *,
    force: bool = False,
    actor: Actor | None = None,
    submit: Callable[[Callable[[], RemoteDataSource]], Future] | None = None,
    in_flight: int = 1,
    group: int = 32,
    tokens: AccessTokens | None = None,
) -> tuple[dict[str, int], list[BaseException]]:
    """Rotate many data sources: the steps of `datasource_rotate`, run as a pipeline.

    This thread does the database work for `group` rotations at a time: the write-ahead of
    the next group while calls are still out, and the completion of answered calls together
    (a group's worth, or whatever is answered when the calls go quiet for a moment). `submit`
    runs a call elsewhere (a pool of `in_flight` threads; inline by default), so calls keep
    going while this thread writes. The next group is written ahead once fewer than a group
    is queued beyond the calls in flight: the threads never wait for the database, and no
    lease starts more than about two groups' calls before its own.

    Returns the count of each outcome and the unexpected errors (not Webex's answers), for
    the caller to raise once every data source has been attempted.
    """
    tokens = tokens or AccessTokens()
    submit = submit or _run_inline
    waiting = deque(ds_ids)
    back: queue.SimpleQueue[tuple[_Attempt, Future]] = queue.SimpleQueue()  # calls answered
    out = 0  # calls handed out and not back yet
    clients: dict[str, WebexClient] = {}  # one per region for the batch
    answered: list[tuple[_Attempt, RemoteDataSource]] = []
    outcomes: Counter[str] = Counter()
    errors: list[BaseException] = []
    while waiting or out or answered:
        if waiting and out < in_flight + group:
            take = [waiting.popleft() for _ in range(min(group, len(waiting)))]
            attempts, refused = _write_ahead(take, force=force, seen_versions={})
            outcomes.update(result.outcome for result in refused.values())
            for attempt in attempts:
                app = attempt.ds.org.service_app
                client = clients.get(app.region) or clients.setdefault(
                    app.region, webex_client_for(app)
                )
                tokens.get(attempt.ds.org)  # read here, so the call threads need no database
                future = submit(functools.partial(_call, attempt, actor, tokens, client))
                future.add_done_callback(functools.partial(_put_back, back, attempt))
                out += 1
            if out < in_flight + group and waiting:
                continue
        finished = []
        if out:
            try:  # the first answer (or a quiet moment), then every other one already back
                finished.append(back.get(timeout=QUIET_SECONDS))
                while True:
                    finished.append(back.get_nowait())
            except queue.Empty:
                pass
        for attempt, future in finished:
            out -= 1
            error = future.exception()
            if error is None:
                answered.append((attempt, future.result()))
            elif isinstance(error, WebexError):
                outcomes[_rotation_failed(attempt, error, actor).outcome] += 1
            elif isinstance(error, _LeaseLapsed):
                outcomes["skipped"] += 1  # waited too long for a thread; the next sweep sends it
            else:
                _release(attempt)
                errors.append(error)
        if answered and (len(answered) >= group or not out or not finished):
            outcomes.update(result.outcome for result in _complete(answered, actor).values())
            answered = []
    return dict(outcomes), errors


def _put_back(back: queue.SimpleQueue, attempt: _Attempt, future: Future) -> None:
    back.put((attempt, future))


# How long the pipeline waits for more answers before it stores those it has.
QUIET_SECONDS = 0.05


def _run_inline(call: Callable[[], RemoteDataSource]) -> Future:
    future: Future = Future()
    try:
        future.set_result(call())
    except BaseException as exc:  # noqa: BLE001 - handed to the pipeline like a thread's
        future.set_exception(exc)
    return future


def _rotation_failed(attempt: _Attempt, exc: WebexError, actor) -> RotationResult:
    """Decide what happens after a failed rotation call; always aim to succeed before expiry."""
    now = timezone.now()
    nonce, called_at = attempt.nonce, attempt.called_at or now
    with transaction.atomic():
        ds = (
            DataSource.objects.select_for_update(of=("self",))
            .select_related("org")
            .get(pk=attempt.ds.pk)
        )
        ds.consecutive_failures += 1
        ds.last_tracking_id = exc.tracking_id or ""
        ds.claimed_until = None
        ds.inflight_until = _settled_after(exc, now, called_at)  # re-sent once it has settled
        outcome = "failed"
        if isinstance(exc, WebexNotFound):
            ds.missing_at_webex_since = now
            ds.next_rotation_at = None
            outcome = "missing"
        elif isinstance(exc, WebexRateLimited):
            ds.next_rotation_at = rules.rate_limited_until(retry_after=exc.retry_after, now=now)
            outcome = "rate_limited"
        else:
            ds.next_rotation_at = rules.rotation_retry_at(
                failures=ds.consecutive_failures, expires_at=ds.token_expires_at, now=now
            )
        if ds.inflight_until and ds.next_rotation_at and ds.next_rotation_at < ds.inflight_until:
            ds.next_rotation_at = ds.inflight_until  # not before the unanswered call settled
        # Webex's words, its wait and when the engine tries again, with the trackingId.
        ds.last_error = explain(exc, retry_at=ds.next_rotation_at, now=now)
        ds.save()
        NonceRecord.objects.filter(nonce=nonce).update(
            error=str(exc)[:500], tracking_id=exc.tracking_id or ""
        )
        record_rotation_outcome(outcome=outcome)
        audit_record(
            action=Action.DATASOURCE_ROTATION_FAILED
            if outcome != "missing"
            else Action.DATASOURCE_DRIFT_FOUND,
            summary=f"Rotating {ds.url} failed ({outcome}); next try "
            + (
                f"{ds.next_rotation_at:%H:%M:%S} UTC"
                if ds.next_rotation_at
                else "none: gone at Webex"
            ),
            actor=actor,
            target_type="datasource",
            target_id=ds.public_id,
            target_label=ds.url[:200],
            org_id=ds.org.public_id,
            outcome="failed",
            error=str(exc),
            tracking_id=exc.tracking_id or "",
        )
    return RotationResult(outcome, ds.last_error)
