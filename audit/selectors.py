"""Reads of the audit trail: filtering, keyset paging, chain verification."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from .models import AuditChainHead, AuditEvent


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""
    action: str = ""
    org_id: uuid.UUID | None = None
    target_type: str = ""
    target_id: str = ""
    outcome: str = ""
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    correlation_id: uuid.UUID | None = None
    search: str = ""  # words in the summary or target label (a scan: pair it with a date range)


def audit_events(f: AuditFilter) -> QuerySet[AuditEvent]:
    """Events matching the filter, newest first. Exact matches only, so indexes serve them."""
    qs = AuditEvent.objects.all()
    if f.actor:
        qs = qs.filter(actor=f.actor)
    if f.action:
        qs = qs.filter(action=f.action)
    if f.org_id:
        qs = qs.filter(org_id=f.org_id)
    if f.target_type:
        qs = qs.filter(target_type=f.target_type)
    if f.target_id:
        qs = qs.filter(target_id=f.target_id)
    if f.outcome:
        qs = qs.filter(outcome=f.outcome)
    if f.since:
        qs = qs.filter(occurred_at__gte=f.since)
    if f.until:
        qs = qs.filter(occurred_at__lt=f.until)
    if f.correlation_id:
        qs = qs.filter(correlation_id=f.correlation_id)
    if f.search:
        qs = qs.filter(Q(summary__icontains=f.search) | Q(target_label__icontains=f.search))
    return qs.order_by("-id")


@dataclass(frozen=True)
class Page:
    events: list[AuditEvent]
    newer_cursor: int | None  # ?after=<id>: the page of newer events
    older_cursor: int | None  # ?before=<id>: the page of older events


def audit_page(
    qs: QuerySet[AuditEvent],
    *,
    before: int | None = None,
    after: int | None = None,
    size: int = 50,
) -> Page:
    """A keyset page, newest first: no COUNT(*) and no OFFSET, so the cost of a page does not
    grow with the table. `before` pages towards older events, `after` towards newer ones."""
    if after is not None:
        rows = list(qs.filter(id__gt=after).order_by("id")[: size + 1])
        has_newer = len(rows) > size
        events = list(reversed(rows[:size]))
        return Page(
            events=events,
            newer_cursor=events[0].id if has_newer and events else None,
            older_cursor=events[-1].id if events else after + 1,
        )
    rows = list((qs.filter(id__lt=before) if before is not None else qs)[: size + 1])
    has_older = len(rows) > size
    events = rows[:size]
    return Page(
        events=events,
        newer_cursor=(events[0].id if events else before - 1) if before is not None else None,
        older_cursor=events[-1].id if has_older else None,
    )


@dataclass(frozen=True)
class ChainReport:
    checked: int
    broken_at: int | None  # id of the first event whose hash or link does not match
    problem: str
    head_id: int
    head_hash: str


def audit_verify_chain(*, batch: int = 5000) -> ChainReport:
    """Walk every event in id order, recompute each hash and check each link."""
    prev = AuditChainHead.GENESIS
    checked = 0
    for event in _iter_in_order(batch):
        if event.prev_hash != prev:
            return ChainReport(
                checked, event.id, "prev_hash does not match the event before", *audit_chain_head()
            )
        if event.compute_hash() != event.hash:
            return ChainReport(
                checked, event.id, "content does not match its hash", *audit_chain_head()
            )
        prev = event.hash
        checked += 1
    head_id, head_hash = audit_chain_head()
    if head_hash != prev:  # also catches a table emptied behind the head's back
        return ChainReport(
            checked, head_id, "chain head does not match the last event", head_id, head_hash
        )
    return ChainReport(checked, None, "", head_id, head_hash)


def _iter_in_order(batch: int) -> Iterator[AuditEvent]:
    last = 0
    while True:
        rows = list(AuditEvent.objects.filter(id__gt=last).order_by("id")[:batch])
        if not rows:
            return
        yield from rows
        last = rows[-1].id


def audit_chain_head() -> tuple[int, str]:
    head = AuditChainHead.objects.filter(pk=1).first()
    return (head.last_event_id, head.last_hash) if head else (0, AuditChainHead.GENESIS)
