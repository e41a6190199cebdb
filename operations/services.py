"""Bulk operations: preview, start, run (resumably, in chunks) and retry the failures.

Every item calls the existing single-target service (`datasources.services.datasource_rotate`,
`datasource_disable`, `datasource_enable`, `tenants.services.org_offboard_start` + `_run`) with
the acting user as the actor, so each change is audited exactly as if done one by one. This
module only adds the bookkeeping: which targets, what happened to each, and counters.

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

from accounts.roles import Perm
from audit.context import Actor
from audit.services import audit_record
from audit.vocabulary import Action
from core.webex_adapter import explain
from datasources import services as ds_services
from datasources.models import DataSource
from operations.offboarding import org_offboard_run
from tenants import services as tenant_services
from tenants.models import CustomerOrg
from webex.errors import WebexError

from .models import BulkItem, BulkOperation
from .selectors import FILTERS, Selection, bulk_item_targets

Kind = BulkOperation.Kind
TargetType = BulkOperation.TargetType
ItemState = BulkItem.State
OpState = BulkOperation.State

# kind -> (target type, the permission its single-target page requires)
KINDS: dict[str, tuple[str, str]] = {
    Kind.ROTATE: (TargetType.DATASOURCE, Perm.EDIT_DATASOURCES),
    Kind.DISABLE: (TargetType.DATASOURCE, Perm.OPERATE),
    Kind.ENABLE: (TargetType.DATASOURCE, Perm.OPERATE),
    Kind.OFFBOARD: (TargetType.ORG, Perm.OPERATE),
}
NEEDS_MESSAGE = "Disabling needs a message: the customer's admin sees it in Control Hub."
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
    return kind in KINDS and user.has_perm(KINDS[kind][1])


# ------------------------------------------------------------------------- what will change
def _org_state_reason(org: CustomerOrg) -> str:
    return f"its org {org.name} is {org.get_status_display().lower()}"


def _skip_reason(kind: str, target) -> str:
    """Why this target would not change (empty: it will). The same rule serves the preview,
    the start and every item at run time, so what the preview promised is what happens."""
    if kind == Kind.OFFBOARD:
        if target.status == CustomerOrg.Status.OFFBOARDED:
            return "already offboarded"
        return ""
    if target.deleted_at:
        return "deleted"
    if kind == Kind.DISABLE and target.status == DataSource.Status.DISABLED:
        return "already disabled"
    if kind == Kind.ENABLE and target.status == DataSource.Status.ACTIVE:
        return "already active"
    if kind == Kind.ROTATE and target.status != DataSource.Status.ACTIVE:
        return "disabled: only active data sources rotate"
    if target.org.status != CustomerOrg.Status.ACTIVE:
        return _org_state_reason(target.org)
    if kind == Kind.ROTATE and target.missing_at_webex_since:
        return "gone at Webex (see the drift page)"
    return ""


_FIELDS = {  # what _skip_reason and _label read: load only that for thousands of rows
    TargetType.DATASOURCE: (
        "public_id",
        "url",
        "status",
        "deleted_at",
        "missing_at_webex_since",
        "org__name",
        "org__status",
    ),
    TargetType.ORG: ("public_id", "name", "status"),
}


def _iter_targets(kind: str, selection: Selection):
    item_type = KINDS[kind][0]
    qs = bulk_item_targets(selection, item_type)
    if item_type == TargetType.ORG:
        qs = qs.select_related(None)
    return qs.only(*_FIELDS[item_type]).iterator(chunk_size=CREATE_BATCH)


def _describe(kind: str, selection: Selection) -> str:
    if KINDS[kind][0] == selection.target_type:
        return selection.describe()
    return f"the data sources of {selection.describe()}"


def _label(target) -> str:
    if isinstance(target, CustomerOrg):
        return target.name[:200]
    return f"{target.org.name} · {target.url}"[:200]


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


def _check_selection(kind: str, selection: Selection) -> None:
    if kind not in KINDS:
        raise ValidationError({"kind": f"Choose one of: {', '.join(Kind.values)}."})
    item_type = KINDS[kind][0]
    # Data source actions may also be chosen on orgs: they apply to the orgs' data sources.
    if item_type != selection.target_type and item_type != TargetType.DATASOURCE:
        noun = TargetType(item_type).label.lower()
        raise ValidationError({"kind": f"{Kind(kind).label} applies to {noun} only."})
    if not selection.all_matching and not selection.public_ids:
        raise ValidationError({"ids": "Select at least one row, or all rows matching the filter."})
    unknown = set(selection.filters) - set(FILTERS[selection.target_type])
    if unknown:
        raise ValidationError({"filters": f"Unknown filter: {', '.join(sorted(unknown))}."})


def bulk_preview(*, kind: str, selection: Selection) -> Preview:
    """What `bulk_operation_start` would do now: how many targets, which are skipped and why,
    and a sample of those that change. Reads only."""
    _check_selection(kind, selection)
    total = will_change = 0
    reasons: Counter[str] = Counter()
    sample: list[str] = []
    for target in _iter_targets(kind, selection):
        total += 1
        reason = _skip_reason(kind, target)
        if reason:
            reasons[reason] += 1
            continue
        will_change += 1
        if len(sample) < SAMPLE_SIZE:
            sample.append(_label(target))
    return Preview(
        kind=kind,
        target_type=KINDS[kind][0],
        selection=_describe(kind, selection),
        total=total,
        will_change=will_change,
        skipped=reasons.most_common(),
        sample=sample,
    )


# ------------------------------------------------------------------------- start / retry
def _clean_params(kind: str, params: dict) -> dict:
    """The action's own input, checked with the same rules as the single-target pages."""
    params = params or {}
    if kind == Kind.DISABLE:
        message = str(params.get("message") or "").strip()
        if not message:
            raise ValidationError({"message": NEEDS_MESSAGE})
        if len(message) > 256:
            raise ValidationError({"message": "Keep the message under 256 characters."})
        return {"message": message}
    if kind == Kind.OFFBOARD:
        errors = {}
        mode = str(params.get("mode") or "")
        reason = str(params.get("reason") or "").strip()
        if mode not in CustomerOrg.OffboardMode.values:
            errors["mode"] = "Choose whether to disable or delete the orgs' data sources."
        if len(reason) < 5:
            errors["reason"] = (
                "Give a reason (at least 5 characters): it is kept in the audit trail."
            )
        if errors:
            raise ValidationError(errors)
        return {"mode": mode, "reason": reason}
    return {}


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
        kind=kind, target_type=target_type, params=params, created_by=user, retry_of=retry_of
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
    _check_selection(kind, selection)
    clean = _clean_params(kind, params or {})
    clean["selection"] = _describe(kind, selection)
    targets = (
        (t.public_id, _label(t), _skip_reason(kind, t)) for t in _iter_targets(kind, selection)
    )
    return _create(
        kind=kind,
        target_type=KINDS[kind][0],
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
def _load(op: BulkOperation, item: BulkItem):
    if op.target_type == TargetType.ORG:
        return (
            CustomerOrg.objects.select_related("service_app")
            .filter(public_id=item.target_public_id)
            .first()
        )
    return (
        DataSource.objects.select_related("org__service_app")
        .filter(public_id=item.target_public_id, deleted_at__isnull=True)
        .first()
    )


def _already_applied(op: BulkOperation, item: BulkItem, target) -> bool:
    """A started item whose target already shows the change: applied before a crash."""
    if item.started_at is None:
        return False
    if op.kind == Kind.DISABLE:
        return target.status == DataSource.Status.DISABLED
    if op.kind == Kind.ENABLE:
        return target.status == DataSource.Status.ACTIVE
    if op.kind == Kind.ROTATE:
        return bool(target.last_rotated_at and target.last_rotated_at >= item.started_at)
    if op.kind == Kind.OFFBOARD:
        return target.status == CustomerOrg.Status.OFFBOARDED
    return False


def _apply(op: BulkOperation, target, actor: Actor) -> tuple[str, str]:
    """Run the single-target service; returns (item state, reason). Typed refusals become a
    failed item with a reason written for staff (never secrets: the services' own wording)."""
    try:
        if op.kind == Kind.ROTATE:
            result = ds_services.datasource_rotate(
                ds_id=target.pk, actor=actor, force=True, seen_version=target.version
            )
            if result.outcome == "rotated":
                return ItemState.SUCCEEDED, ""
            if result.outcome in ("skipped", "in_progress", "already_rotated"):
                return ItemState.SKIPPED, result.detail
            labels = {
                "rate_limited": "Webex is rate-limiting; the rotation engine retries it shortly",
                "paused": "rotation is paused",
                "missing": "gone at Webex",
            }
            detail = result.detail or ""
            head = labels.get(result.outcome, "rotation failed")
            return ItemState.FAILED, f"{head}: {detail}".rstrip(": ")[:500]
        if op.kind == Kind.DISABLE:
            ds_services.datasource_disable(ds=target, message=op.params["message"], actor=actor)
            return ItemState.SUCCEEDED, ""
        if op.kind == Kind.ENABLE:
            ds_services.datasource_enable(ds=target, actor=actor)
            return ItemState.SUCCEEDED, ""
        if op.kind == Kind.OFFBOARD:
            org = target
            if org.status != CustomerOrg.Status.OFFBOARDING:
                # The bulk confirmation stands in for typing each org's name.
                org = tenant_services.org_offboard_start(
                    org=org,
                    confirm_name=org.name,
                    mode=op.params["mode"],
                    reason=op.params["reason"],
                    actor=actor,
                )
            outcome = org_offboard_run(org=org, actor=actor)
            if outcome in ("offboarded", "already offboarded"):
                return ItemState.SUCCEEDED, ""
            return ItemState.FAILED, outcome[:500]
    except ds_services.DataSourceError as exc:
        return ItemState.FAILED, exc.reason[:500]
    except tenant_services.WebexRefused as exc:
        return ItemState.FAILED, exc.reason[:500]
    except WebexError as exc:
        return ItemState.FAILED, explain(exc)[:500]
    except tenant_services.IllegalTransition as exc:
        return ItemState.SKIPPED, str(exc)[:500]
    except ValidationError as exc:
        return ItemState.FAILED, "; ".join(exc.messages)[:500]
    raise ValueError(f"unknown bulk kind {op.kind!r}")


_COUNTER = {
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
    try:
        pending = list(op.items.filter(state=ItemState.PENDING).order_by("pk")[:limit])
        for item in pending:
            target = _load(op, item)
            if target is None:
                _settle(op, item, ItemState.SKIPPED, "no longer exists")
                continue
            if _already_applied(op, item, target):
                _settle(op, item, ItemState.SUCCEEDED, "applied before an interruption")
                continue
            reason = _skip_reason(op.kind, target)
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
