"""The header's search: one term, looked for in orgs (name or id), data sources (URL, public id
or Webex id) and audit events (Webex trackingId or correlation id). Each kind is one LIMITed
query; ids are exact matches through unique or indexed columns, names and URLs a substring."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass, field

from django.db.models import Q

from audit.models import AuditEvent
from datasources.models import DataSource
from tenants.models import CustomerOrg
from webex.ids import decode as decode_webex_id

MIN_LENGTH = 3
LIMIT = 20


@dataclass
class Results:
    term: str
    orgs: list[CustomerOrg] = field(default_factory=list)
    datasources: list[DataSource] = field(default_factory=list)
    events: list[AuditEvent] | None = None  # None: the user may not read the audit trail
    too_short: bool = False

    @property
    def empty(self) -> bool:
        return not (self.orgs or self.datasources or self.events)


def _uuids(term: str) -> list[uuid.UUID]:
    """The UUIDs a term may stand for: itself, or the value inside a base64 Webex id."""
    found = []
    with contextlib.suppress(ValueError):
        found.append(uuid.UUID(term))
    with contextlib.suppress(ValueError):
        found.append(uuid.UUID(decode_webex_id(term)[2]))
    return found


def search(term: str, *, with_audit: bool, limit: int = LIMIT) -> Results:
    term = term.replace("\x00", "").strip()[:200]  # PostgreSQL text holds no NUL
    results = Results(term=term, events=[] if with_audit else None)
    if len(term) < MIN_LENGTH:
        results.too_short = True
        return results
    ids = _uuids(term)

    org_q = Q(name__icontains=term)
    if ids:
        org_q |= Q(public_id__in=ids) | Q(webex_org_id__in=ids)
    results.orgs = list(
        CustomerOrg.objects.select_related("token").filter(org_q).order_by("name", "pk")[:limit]
    )

    # A Webex id is stored as Webex gave it (base64 or plain): the term is matched as typed
    # and, decoded, as its inner value.
    ds_q = Q(url__icontains=term) | Q(webex_id=term)
    if ids:
        ds_q |= Q(public_id__in=ids) | Q(webex_id__in=[str(i) for i in ids])
    results.datasources = list(
        DataSource.objects.filter(deleted_at__isnull=True)
        .filter(ds_q)
        .select_related("org")
        .order_by("org__name", "url", "pk")[:limit]
    )

    if with_audit:
        event_q = Q(tracking_id=term)
        if ids:
            event_q |= Q(correlation_id__in=ids)
        results.events = list(AuditEvent.objects.filter(event_q).order_by("-id")[:limit])
    return results
