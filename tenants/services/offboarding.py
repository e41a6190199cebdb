"""The org's side of an offboarding: the operator's confirmation, the progress of each attempt,
and the last step. The workflow that drives them is `operations.offboarding`."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.context import Actor
from audit.services import audit_record, audit_record_failure
from audit.vocabulary import Action
from core import policy as rules

from ..models import CustomerOrg, OrgToken
from ._common import _org_target
from .lifecycle import org_transition

Status = CustomerOrg.Status


def org_offboard_start(
    *, org: CustomerOrg, confirm_name: str, mode: str, reason: str, actor: Actor | None = None
) -> CustomerOrg:
    """Operator confirmed: write the intent (mode, reason) and move to `offboarding`. The task
    `offboard_org` then does the work; it can be re-run until the org is `offboarded`."""
    errors = {}
    if confirm_name.strip() != org.name:
        errors["confirm_name"] = f"Type the org's name exactly: {org.name}"
    if mode not in CustomerOrg.OffboardMode.values:
        errors["mode"] = "Choose whether to disable or delete the org's data sources."
    if len(reason.strip()) < 5:
        errors["reason"] = "Give a reason (at least 5 characters): it is kept in the audit trail."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        org = CustomerOrg.objects.select_for_update().get(pk=org.pk)
        before = org_transition(org, Status.OFFBOARDING)
        org.offboard_mode = mode
        org.offboard_reason = reason.strip()
        org.offboard_progress = {
            "total": None,
            "done": 0,
            "failed": 0,
            "step": "data sources",
            "failures": [],
            "attempts": 0,
        }
        org.save()
        OrgToken.objects.filter(org=org).update(next_refresh_at=None, claimed_until=None)
        audit_record(
            action=Action.ORG_OFFBOARDING_STARTED,
            summary=f"Offboarding {org.name}: data sources will be {mode}d",
            actor=actor,
            **_org_target(org),
            reason=org.offboard_reason,
            changes={
                "status": {"before": before, "after": org.status},
                "offboard_mode": {"before": None, "after": mode},
            },
        )
    return org


def org_offboard_progress_save(org: CustomerOrg, **progress) -> None:
    """Record how far an offboarding got (total, done, failed, step, failures, attempts, ...)."""
    org.offboard_progress = {**org.offboard_progress, **progress}
    CustomerOrg.objects.filter(pk=org.pk).update(offboard_progress=org.offboard_progress)


def _progress_save(org: CustomerOrg, **progress) -> None:
    """`org_offboard_progress_save` as the package exports it, looked up when called: that is
    the name the workflow calls and the one a test replaces (operations' crash test kills the
    worker on a chosen save, counting the attempt's own saves), so the attempt's saves here go
    through the same name."""
    from tenants import services  # the package; fully imported by the time this runs

    services.org_offboard_progress_save(org, **progress)


def org_offboard_attempt_started(*, org: CustomerOrg, now: dt.datetime | None = None) -> None:
    """An attempt begins: if it never reports back (its worker died), the offboarding sweep
    takes it up again after OFFBOARD_ATTEMPT_MINUTES."""
    now = now or timezone.now()
    attempts = int(org.offboard_progress.get("attempts") or 0) + 1
    _progress_save(
        org,
        attempts=attempts,
        last_attempt_at=now.isoformat(),
        next_attempt_at=(now + rules.policy().offboard_attempt).isoformat(),
    )


def org_offboard_attempt_failed(
    *,
    org: CustomerOrg,
    failures: list[dict],
    detail: str,
    actor: Actor | None = None,
    now: dt.datetime | None = None,
) -> dt.datetime:
    """What is left after an attempt, with Webex's reasons, and when the next one runs (backing
    off 1, 2, 4 ... 60 minutes). Returns that time."""
    now = now or timezone.now()
    attempts = int(org.offboard_progress.get("attempts") or 1)
    retry_at = rules.offboard_retry_at(attempts=attempts, now=now)
    with transaction.atomic():
        _progress_save(
            org,
            failed=len(failures),
            failures=failures[:100],
            error=detail[:500],
            next_attempt_at=retry_at.isoformat(),
        )
        audit_record_failure(
            action=Action.ORG_OFFBOARDED,
            summary=f"Offboarding {org.name}: attempt {attempts} left "
            f"{len(failures) or 'the listing'} undone; next attempt {retry_at:%H:%M} UTC",
            actor=actor,
            **_org_target(org),
            error=detail[:500],
            tracking_id=next((f["tracking_id"] for f in failures if f.get("tracking_id")), ""),
            reason=org.offboard_reason,
        )
    return retry_at


def org_offboard_finish(*, org: CustomerOrg, actor: Actor | None = None) -> str:
    """The last step of an offboarding: the org is `offboarded`."""
    with transaction.atomic():
        org = CustomerOrg.objects.select_for_update().get(pk=org.pk)
        if org.status == Status.OFFBOARDED:
            return "already offboarded"
        before = org_transition(org, Status.OFFBOARDED)
        progress = {k: v for k, v in org.offboard_progress.items() if k != "next_attempt_at"}
        org.offboard_progress = {**progress, "step": "done", "failed": 0, "failures": []}
        org.save()
        audit_record(
            action=Action.ORG_OFFBOARDED,
            summary=f"Offboarded {org.name}",
            actor=actor,
            **_org_target(org),
            reason=org.offboard_reason,
            changes={"status": {"before": before, "after": org.status}},
        )
    return "offboarded"
