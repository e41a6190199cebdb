"""Names the audit trail cannot know by itself. The trail keeps an org's public id, not its
name; the app that owns orgs (tenants, a higher floor) registers here at start-up how to turn
a name into ids, so the audit log can be filtered by org name without importing it."""

from __future__ import annotations

import uuid
from collections.abc import Callable

_org_ids_named: Callable[[str], list[uuid.UUID]] | None = None


def register_org_lookup(lookup: Callable[[str], list[uuid.UUID]]) -> None:
    global _org_ids_named
    _org_ids_named = lookup


def org_ids_named(name: str) -> list[uuid.UUID]:
    """The public ids of the orgs with this name (case-insensitive); none when no app told."""
    return _org_ids_named(name) if _org_ids_named is not None else []
