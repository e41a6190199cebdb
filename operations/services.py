"""Bulk operations: preview, start, run (resumably, in chunks) and retry the failures.

Every item calls the existing single-target service (`datasources.services.datasource_rotate`,
`datasource_disable`, `datasource_enable`, `tenants.services.org_offboard_start` + `_run`) with
the acting user as the actor, so each change is audited exactly as if done one by one. What
differs between the kinds (permission, targets, input, skip rule, the action itself) is in
`operations.kinds`, one class per kind; this module only adds the bookkeeping that is the same
for all: which targets, what happened to each, and counters.

Resuming: items are settled one by one, each in its own transaction together with the
operation's counters. An item is marked `started_at` before its action runs; a run that finds a
started but unsettled item (a crash came between the action and its record) first looks whether
the target already shows the change and then records success without applying it again.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from audit.context import Actor, bound, correlation_id
from audit.services import audit_record
from audit.vocabulary import Action
from core.webex_adapter import explain
from datasources import services as ds_services
from tenants import services as tenant_services
from webex.errors import WebexError

from .kinds import KINDS, REASON_MAX, BulkKind, bulk_kind
from .models import BulkItem, BulkOperation
from .selectors import FILTERS, Selection

Kind = BulkOperation.Kind
TargetType = BulkOperation.TargetType
ItemState = BulkItem.State
OpState = BulkOperation.State

SAMPLE_SIZE = 10
MAX_ATTEMPTS = 3  # runs that may be interrupted while applying one item before it fails
INTERRUPTED = "interrupted {n} times while being applied (see the worker logs); retry it later"
CREATE_BATCH = 1000


def _lease() -> dt.timedelta:
    """Longer than a task may live (its hard time limit), so two runners never overlap; a
    lost runner's lease runs out soon after and `operations.resume_stalled` re-queues it."""
    return dt.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)


def bulk_kind_allowed(user, kind: str) -> bool:
    """May `user` start (or retry) a bulk operation of this kind?"""
    return kind in KINDS and KINDS[kind].allowed(user)


# ------------------------------------------------------------------------- what will change
def _iter_targets(kind: BulkKind, selection: Selection):
    return kind.targets(selection).iterator(chunk_size=CREATE_BATCH)


@dataclass(frozen=True)
class Preview:
    kind: str
    target_type: str
    selection: str  # in words
    total: int
    will_change: int
    skipped: list[tuple[str, int]]  # (reason, how many), most frequent first
    sample: list[str]  # labels of the first targets that will change

    @property
    def skipped_count(self) -> int:
        return sum(n for _, n in self.skipped)


def _check_selection(kind: str, selection: Selection) -> BulkKind:
    """The kind chosen, once the selection is known to suit it."""
    if kind not in KINDS:
        raise ValidationError({"kind": f"Choose one of: {', '.join(Kind.values)}."})
    bulk = KINDS[kind]
    # Data source actions may also be chosen on orgs: they apply to the orgs' data sources.
    if selection.target_type not in bulk.chosen_on:
        noun = TargetType(bulk.target_type).label.lower()
        raise ValidationError({"kind": f"{bulk.label} applies to {noun} only."})
    if not selection.all_matching and not selection.public_ids:
        raise ValidationError({"ids": "Select at least one row, or all rows matching the filter."})
    unknown = set(selection.filters) - set(FILTERS[selection.target_type])
    if unknown:
        raise ValidationError({"filters": f"Unknown filter: {', '.join(sorted(unknown))}."})
    return bulk


def bulk_preview(*, kind: str, selection: Selection) -> Preview:
    """What `bulk_operation_start` would do now: how many targets, which are skipped and why,
    and a sample of those that change. Reads only."""
    bulk = _check_selection(kind, selection)
    total = will_change = 0
    reasons: Counter[str] = Counter()
    sample: list[str] = []
    for target in _iter_targets(bulk, selection):
        total += 1
        reason = bulk.skip_reason(target)
        if reason:
            reasons[reason] += 1
            continue
        will_change += 1
        if len(sample) < SAMPLE_SIZE:
            sample.append(bulk.label_of(target))
    return Preview(
        kind=kind,
        target_type=bulk.target_type,
        selection=bulk.describe(selection),
        total=total,
        will_change=will_change,
        skipped=reasons.most_common(),
        sample=sample,
    )


# ------------------------------------------------------------------------- start / retry
def _create(
    *, kind: str, target_type: str, params: dict, targets, user, retry_of=None, actor
) -> BulkOperation:
    """Inside a transaction: the operation, its items (in batches), its audit event."""
    if actor is None and user is not None:
        actor = Actor.user(user)
    params = {k: v for k, v in params.items() if k != "actor"}
    if user is None and actor is not None:
        # Started without a staff user (an API key): remember who, so every item's own audit
        # event names that key as it would for a single-target API call. Labels, no secrets.
        params["actor"] = {"type": actor.type, "label": actor.label, "id": actor.id}
    op = BulkOperation(
        kind=kind,
        target_type=target_type,
        params=params,
        created_by=user,
        retry_of=retry_of,
        correlation_id=correlation_id(),
    )
    op.full_clean()
    op.save()
    batch: list[BulkItem] = []
    total = 0
    for target_public_id, label, skip in targets:
        total += 1
        batch.append(
            BulkItem(
                operation=op,
                target_public_id=target_public_id,
                target_label=label,
                state=ItemState.SKIPPED if skip else ItemState.PENDING,
                reason=skip,
                finished_at=timezone.now() if skip else None,
            )
        )
        if len(batch) >= CREATE_BATCH:
            BulkItem.objects.bulk_create(batch)
            batch = []
    BulkItem.objects.bulk_create(batch)
    if not total:
        raise ValidationError({"ids": "Nothing matches this selection any more."})
    op.total = total
    op.skipped = op.items.filter(state=ItemState.SKIPPED).count()
    op.save(update_fields=["total", "skipped"])
    audit_record(
        action=Action.BULK_STARTED,
        summary=(
            f"{op.get_kind_display()}: {total} {op.get_target_type_display().lower()}"
            + (f" (retrying the failures of {retry_of.public_id})" if retry_of else "")
            + f", {op.skipped} skipped"
        ),
        actor=actor,
        target_type="bulk_operation",
        target_id=op.public_id,
        target_label=str(op),
        reason=params.get("message") or params.get("reason") or "",
    )
    return op


@transaction.atomic
def bulk_operation_start(
    *,
    kind: str,
    selection: Selection,
    params: dict | None = None,
    user=None,
    actor: Actor | None = None,
) -> BulkOperation:
    """Validate, snapshot the targets as items (those to skip are settled at once) and record
    the start. The caller schedules `operations.run` on commit."""
    bulk = _check_selection(kind, selection)
    clean = bulk.clean_params(params or {})
    clean["selection"] = bulk.describe(selection)
    targets = (
        (t.public_id, bulk.label_of(t), bulk.skip_reason(t)) for t in _iter_targets(bulk, selection)
    )
    return _create(
        kind=kind,
        target_type=bulk.target_type,
        params=clean,
        targets=targets,
        user=user,
        actor=actor,
    )


@transaction.atomic
def bulk_operation_retry_failures(
    *, operation: BulkOperation, user=None, actor: Actor | None = None
) -> BulkOperation:
    """A new operation, same action and input, over the failed items of `operation` only.
    Whether each target still needs the change is decided again when it runs."""
    operation = BulkOperation.objects.select_for_update().get(pk=operation.pk)
    if operation.state != OpState.DONE:
        raise ValidationError({"operation": "Wait until the operation is done to retry it."})
    failed = operation.items.filter(state=ItemState.FAILED).order_by("pk")
    if not failed.exists():
        raise ValidationError({"operation": "This operation has no failures to retry."})
    params = {
        **operation.params,
        "selection": f"the failures of an operation of {operation.created_at:%Y-%m-%d %H:%M} UTC",
    }
    targets = ((i.target_public_id, i.target_label, "") for i in failed.iterator())
    return _create(
        kind=operation.kind,
        target_type=operation.target_type,
        params=params,
        targets=targets,
        user=user,
        retry_of=operation,
        actor=actor,
    )


# ------------------------------------------------------------------------- run
def _already_applied(kind: BulkKind, item: BulkItem, target) -> bool:
    """A started item whose target already shows the change: applied before a crash."""
    return item.started_at is not None and kind.already_applied(target, since=item.started_at)


def _apply(op: BulkOperation, target, actor: Actor) -> tuple[str, str]:
    """Run the kind's single-target service; returns (item state, reason). Typed refusals
    become a failed item with a reason written for staff (never secrets: the services' own
    wording)."""
    try:
        return bulk_kind(op.kind).apply(target, params=op.params, actor=actor)
    except ds_services.DataSourceError as exc:
        return ItemState.FAILED, exc.reason[:REASON_MAX]
    except tenant_services.WebexRefused as exc:
        return ItemState.FAILED, exc.reason[:REASON_MAX]
    except WebexError as exc:
        return ItemState.FAILED, explain(exc)[:REASON_MAX]
    except tenant_services.IllegalTransition as exc:
        return ItemState.SKIPPED, str(exc)[:REASON_MAX]
    except ValidationError as exc:
        return ItemState.FAILED, "; ".join(exc.messages)[:REASON_MAX]


_COUNTER: dict[str, str] = {
    ItemState.SUCCEEDED: "succeeded",
    ItemState.FAILED: "failed",
    ItemState.SKIPPED: "skipped",
}


def _settle(op: BulkOperation, item: BulkItem, state: str, reason: str) -> None:
    """Record one item's outcome and move the operation's counter, together, once."""
    with transaction.atomic():
        updated = BulkItem.objects.filter(pk=item.pk, state=ItemState.PENDING).update(
            state=state, reason=reason, finished_at=timezone.now()
        )
        if updated:
            counter = _COUNTER[state]
            BulkOperation.objects.filter(pk=op.pk).update(**{counter: F(counter) + 1})


def _claim(op_id: int, now: dt.datetime) -> bool:
    """Take the operation's lease (conditional UPDATE): one runner at a time."""
    return bool(
        BulkOperation.objects.filter(pk=op_id)
        .exclude(state=OpState.DONE)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(
            state=OpState.RUNNING,
            lease_until=now + _lease(),
        )
    )


def _finish(op_id: int) -> None:
    with transaction.atomic():
        op = BulkOperation.objects.select_for_update().get(pk=op_id)
        if op.state == OpState.DONE or op.items.filter(state=ItemState.PENDING).exists():
            return
        op.state = OpState.DONE
        op.finished_at = timezone.now()
        op.lease_until = None
        op.save(update_fields=["state", "finished_at", "lease_until"])
        audit_record(
            action=Action.BULK_FINISHED,
            summary=(
                f"{op.get_kind_display()}: {op.succeeded} succeeded, {op.failed} failed, "
                f"{op.skipped} skipped of {op.total}"
            ),
            actor=Actor.system("bulk_operation"),
            target_type="bulk_operation",
            target_id=op.public_id,
            target_label=str(op),
        )


def _run_actor(op: BulkOperation) -> Actor:
    """Who the items' changes are recorded as: the user or API key that started it."""
    if op.created_by:
        return Actor.user(op.created_by)
    started_by = op.params.get("actor")
    if isinstance(started_by, dict) and started_by.get("label"):
        return Actor(
            type=str(started_by.get("type", "")),
            label=str(started_by["label"]),
            id=str(started_by.get("id", "")),
        )
    return Actor.system("bulk_operation")


def bulk_operation_run(*, operation_id: int, limit: int = 100) -> bool:
    """Process up to `limit` pending items; returns True while pending items remain.

    Safe to call again at any time: it takes a lease first, handles pending items only, and
    settles each item with a conditional UPDATE, so a succeeded item is never applied twice.
    """
    now = timezone.now()
    if not _claim(operation_id, now):
        return False
    op = BulkOperation.objects.select_related("created_by").get(pk=operation_id)
    if op.started_at is None:
        BulkOperation.objects.filter(pk=op.pk, started_at__isnull=True).update(started_at=now)
    actor = _run_actor(op)
    # The starting request's correlation id, whichever task runs this chunk.
    with bound(correlation=op.correlation_id):
        return _run_chunk(op, actor, limit)


def _run_chunk(op: BulkOperation, actor: Actor, limit: int) -> bool:
    """`bulk_operation_run` past its lease: settle up to `limit` pending items."""
    try:
        kind = bulk_kind(op.kind)
        pending = list(op.items.filter(state=ItemState.PENDING).order_by("pk")[:limit])
        for item in pending:
            target = kind.load(item.target_public_id)
            if target is None:
                _settle(op, item, ItemState.SKIPPED, "no longer exists")
                continue
            if _already_applied(kind, item, target):
                _settle(op, item, ItemState.SUCCEEDED, "applied before an interruption")
                continue
            reason = kind.skip_reason(target)
            if reason:
                _settle(op, item, ItemState.SKIPPED, reason)
                continue
            if item.attempts >= MAX_ATTEMPTS:  # a poison item must not stall the rest
                _settle(op, item, ItemState.FAILED, INTERRUPTED.format(n=item.attempts))
                continue
            # Write-ahead, committed before the action runs.
            item.attempts += 1
            item.started_at = item.started_at or timezone.now()
            BulkItem.objects.filter(pk=item.pk).update(
                started_at=item.started_at, attempts=item.attempts
            )
            state, reason = _apply(op, target, actor)
            _settle(op, item, state, reason)
            BulkOperation.objects.filter(pk=op.pk).update(lease_until=timezone.now() + _lease())
    finally:
        BulkOperation.objects.filter(pk=op.pk).update(lease_until=None)
    if op.items.filter(state=ItemState.PENDING).exists():
        return True
    _finish(op.pk)
    return False
