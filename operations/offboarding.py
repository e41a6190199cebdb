"""Offboarding, the workflow that spans tenants and data sources.

An operator confirms (`tenants.services.org_offboard_start`: the org becomes `offboarding`
with its mode and reason), then `org_offboard_run` does the work, as often as needed:
1. every data source of the org, known here or found only at Webex, is disabled or deleted
   through the data source services (`datasources_offboard_org`), each with its nonce record
   and audit event under its own public id;
2. the org's tokens are destroyed;
3. the org is `offboarded`.
Each step is idempotent, so a re-run resumes where the last one stopped. An attempt that leaves
data sources undone records each one with Webex's reason and trackingId and is retried by the
offboarding sweep with back-off; an offboarding that stays undone opens an alert for the org's
owner (`alerts`, kind `offboarding_stalled`).
"""

from __future__ import annotations

from audit.context import Actor
from core.words import counted
from datasources import services as ds_services
from tenants import services as tenant_services
from tenants.models import CustomerOrg, OrgToken

Status = CustomerOrg.Status


def org_offboard_run(*, org: CustomerOrg, actor: Actor | None = None) -> str:
    """Do (or resume) an offboarding; returns what happened, in words for staff."""
    org = CustomerOrg.objects.select_related("service_app").get(pk=org.pk)
    if org.status == Status.OFFBOARDED:
        return "already offboarded"
    if org.status != Status.OFFBOARDING:
        raise tenant_services.IllegalTransition(f"{org.name} is {org.status}, not offboarding")
    tenant_services.org_offboard_attempt_started(org=org)
    token = OrgToken.objects.filter(org=org).first()
    if token is not None and token.has_tokens:
        try:
            report = ds_services.datasources_offboard_org(
                org=org,
                actor=actor,
                progress=lambda r: tenant_services.org_offboard_progress_save(
                    org, total=r.total, done=r.done, failed=len(r.failures)
                ),
            )
        except ds_services.DataSourceError as exc:  # Webex did not even list them
            retry_at = tenant_services.org_offboard_attempt_failed(
                org=org, failures=[], detail=exc.reason, actor=actor
            )
            return (
                f"Webex did not list the data sources ({exc.reason}); retry at {retry_at:%H:%M} UTC"
            )
        if report.failures:
            retry_at = tenant_services.org_offboard_attempt_failed(
                org=org,
                failures=[f.as_dict() for f in report.failures],
                detail=report.failures[0].message,
                actor=actor,
            )
            return (
                f"{counted(len(report.failures), 'data source')} failed; "
                f"retried automatically at {retry_at:%H:%M} UTC"
            )
        tenant_services.org_tokens_destroy(org=org, actor=actor)
    else:
        ds_services.datasources_close_org(
            org=org, why="the org has no tokens, so Webex cannot be asked", actor=actor
        )
    return tenant_services.org_offboard_finish(org=org, actor=actor)
