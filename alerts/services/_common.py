"""What the alert services share: the audit event of an alert."""

from __future__ import annotations

from audit.context import Actor
from audit.services import audit_record
from audit.vocabulary import Action

from ..models import Alert


def _audit(alert: Alert, action: Action, summary: str, actor: Actor | None, **kw) -> None:
    audit_record(
        action=action,
        summary=summary,
        actor=actor,
        target_type="alert",
        target_id=alert.public_id,
        target_label=alert.get_kind_display(),
        org_id=alert.org.public_id if alert.org is not None else None,
        **kw,
    )
