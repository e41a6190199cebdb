"""What several of the org services share: how an audit event names an org."""

from __future__ import annotations

from ..models import CustomerOrg


def _org_target(org: CustomerOrg) -> dict:
    """The audit fields that name an org as the target of an event."""
    return {
        "target_type": "org",
        "target_id": org.public_id,
        "target_label": org.name,
        "org_id": org.public_id,
    }
