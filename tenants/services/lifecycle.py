"""The org life cycle: the one transition table, the move along it, and the errors the org
services raise."""

from __future__ import annotations

from django.utils import timezone

from core.errors import PortalError

from ..models import CustomerOrg

Status = CustomerOrg.Status

# The org life cycle. Everything else is illegal and raises.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.PENDING: frozenset({Status.AUTHORIZED, Status.DEAUTHORIZED, Status.OFFBOARDING}),
    Status.AUTHORIZED: frozenset(
        {Status.ACTIVE, Status.REAUTHORIZATION_REQUIRED, Status.DEAUTHORIZED, Status.OFFBOARDING}
    ),
    Status.ACTIVE: frozenset(
        {Status.REAUTHORIZATION_REQUIRED, Status.DEAUTHORIZED, Status.OFFBOARDING}
    ),
    Status.REAUTHORIZATION_REQUIRED: frozenset(
        {Status.AUTHORIZED, Status.ACTIVE, Status.DEAUTHORIZED, Status.OFFBOARDING}
    ),
    Status.DEAUTHORIZED: frozenset({Status.AUTHORIZED, Status.OFFBOARDING}),
    Status.OFFBOARDING: frozenset({Status.OFFBOARDED}),
    Status.OFFBOARDED: frozenset({Status.AUTHORIZED}),  # the admin authorized again: revive
}


class IllegalTransition(PortalError):
    code = "illegal_transition"


class WebexRefused(PortalError):
    """Webex refused an org-level call; the message is written for staff, with the trackingId."""

    code = "webex_refused"


def org_transition(org: CustomerOrg, to: str) -> str:
    """Move `org` to status `to` in memory (the caller saves); returns the previous status."""
    if to not in TRANSITIONS[org.status]:
        raise IllegalTransition(f"{org.name}: {org.status} -> {to} is not allowed")
    previous = org.status
    org.status = to
    org.status_changed_at = timezone.now()
    org.version += 1
    return previous
