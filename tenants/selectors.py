"""Reads for orgs and Service Apps. Views look tenants up only through these guards."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid

from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from core import policy as rules
from core.words import counted

from .models import CustomerOrg, OrgToken, ServiceApp


def org_get_for_user(user, public_id: uuid.UUID) -> CustomerOrg:
    """The one guard for tenant-owned lookups by public id. Every staff role may read every
    org today; a per-team restriction would be added here and nowhere else."""
    if not user.is_authenticated:
        raise Http404
    org = (
        CustomerOrg.objects.select_related("service_app", "owner", "token")
        .filter(public_id=public_id)
        .first()
    )
    if org is None:
        raise Http404("No such org")
    return org


def org_list(
    *, search: str = "", status: str = "", sort: str = "name", hide_offboarded: bool = False
) -> QuerySet[CustomerOrg]:
    """Orgs filtered and sorted; `hide_offboarded` leaves offboarded orgs out unless `status`
    asks for them."""
    qs = CustomerOrg.objects.select_related("service_app", "owner", "token")
    if hide_offboarded and not status:
        qs = qs.exclude(status=CustomerOrg.Status.OFFBOARDED)
    if search:
        term = search.strip()
        query = Q(name__icontains=term)
        with contextlib.suppress(ValueError):  # a UUID also matches the Webex org id
            query |= Q(webex_org_id=uuid.UUID(term))
        qs = qs.filter(query)
    if status:
        qs = qs.filter(status=status)
    allowed = {
        "name",
        "-name",
        "status",
        "-status",
        "token__access_expires_at",
        "-token__access_expires_at",
        "created_at",
        "-created_at",
    }
    return qs.order_by(sort if sort in allowed else "name", "pk")


def org_status_counts() -> dict[str, int]:
    counts = dict(CustomerOrg.objects.values_list("status").annotate(n=Count("pk")))
    return {value: counts.get(value, 0) for value in CustomerOrg.Status.values}


def serviceapp_get(public_id: uuid.UUID) -> ServiceApp:
    app = ServiceApp.objects.filter(public_id=public_id).first()
    if app is None:
        raise Http404("No such Service App")
    return app


SERVICEAPP_SORTS = ("name", "region", "org_count", "created_at")


def serviceapp_list(*, search: str = "", sort: str = "name") -> QuerySet[ServiceApp]:
    """Service Apps with their org counts; `search` matches the name, client id or a domain."""
    qs = ServiceApp.objects.annotate(org_count=Count("orgs"))
    if search:
        term = search.strip()
        by_domain = [
            pk
            for pk, domains in ServiceApp.objects.values_list("pk", "valid_domains")
            if any(term.lower() in d for d in domains or [])
        ]  # JSON lists: matched here so SQLite and PostgreSQL agree; there are few apps
        qs = qs.filter(Q(name__icontains=term) | Q(client_id__icontains=term) | Q(pk__in=by_domain))
    sort = sort if sort.removeprefix("-") in SERVICEAPP_SORTS else "name"
    return qs.order_by(sort, "pk")


def orgs_needing_attention() -> QuerySet[CustomerOrg]:
    """For the dashboard: orgs whose admin must act (reauthorize) or that are failing."""
    return (
        CustomerOrg.objects.select_related("owner", "token")
        .filter(
            Q(status=CustomerOrg.Status.REAUTHORIZATION_REQUIRED)
            | Q(status=CustomerOrg.Status.ACTIVE, token__consecutive_failures__gt=0)
        )
        .order_by("name")
    )


def serviceapp_onboarding_choices(
    now=None,
) -> tuple[list[ServiceApp], list[tuple[ServiceApp, str]]]:
    """The Service Apps the onboarding wizard may use, and the others with the reason why not.

    Fetching an org's tokens needs the partner integration token (unexpired), and registering a
    data source needs approved domains and schemas; an app missing one would fail at step 3/4.
    """
    from django.utils import timezone

    now = now or timezone.now()
    usable, unusable = [], []
    for app in ServiceApp.objects.order_by("name"):
        expires = app.integration_token_expires_at
        if not app.integration_token:
            unusable.append((app, "no partner integration token on file"))
        elif expires is not None and expires <= now:
            unusable.append((app, "its partner integration token has expired"))
        elif not app.valid_domains or not app.schema_ids:
            unusable.append((app, "no approved domains or schemas"))
        else:
            usable.append(app)
    return usable, unusable


def offboardings_stalled(now: dt.datetime) -> list[tuple[CustomerOrg, str]]:
    """Offboardings that need a person: an attempt left data sources undone, or nothing has
    reported back for longer than an attempt may take (no worker picked it up, or it died).
    Each with what is left, in words."""
    silent_since = rules.offboard_stalled_before(now)
    stalled = []
    for org in CustomerOrg.objects.filter(status=CustomerOrg.Status.OFFBOARDING):
        p = org.offboard_progress or {}
        last = p.get("last_attempt_at")
        started = dt.datetime.fromisoformat(last) if last else org.status_changed_at
        if p.get("failed"):
            first = (p.get("failures") or [{}])[0]
            why = first.get("message") or p.get("error") or "Webex refused"
            stalled.append(
                (
                    org,
                    f"{counted(p['failed'], 'data source')} left after attempt "
                    f"{p.get('attempts', 1)}; {why}",
                )
            )
        elif p.get("error"):
            stalled.append((org, f"attempt {p.get('attempts', 1)} failed: {p['error']}"))
        elif started is not None and started < silent_since:
            stalled.append((org, f"no progress since {started:%Y-%m-%d %H:%M} UTC"))
    return stalled


def orgs_offboarding_due(now: dt.datetime | None = None) -> list[int]:
    """Offboardings whose next attempt is due: after a failure's back-off, or stalled."""
    now = now or timezone.now()
    due = []
    for pk, progress in CustomerOrg.objects.filter(
        status=CustomerOrg.Status.OFFBOARDING
    ).values_list("pk", "offboard_progress"):
        next_at = (progress or {}).get("next_attempt_at")
        if next_at is None or dt.datetime.fromisoformat(next_at) <= now:
            due.append(pk)
    return due


def serviceapps_integration_failing() -> QuerySet[ServiceApp]:
    """Service Apps whose integration token refresh failed at its last try (alerts)."""
    return ServiceApp.objects.filter(integration_refresh_failures__gt=0).order_by("pk")


def org_token_soonest_expiry() -> dt.datetime | None:
    """When the first access token of an active org lapses (refresh keeps them ahead)."""
    return (
        OrgToken.objects.filter(
            org__status=CustomerOrg.Status.ACTIVE, access_expires_at__isnull=False
        )
        .order_by("access_expires_at")
        .values_list("access_expires_at", flat=True)
        .first()
    )


def org_public_ids_named(name: str) -> list[uuid.UUID]:
    """The public ids of the orgs called `name` (case-insensitive; at most 10)."""
    return list(
        CustomerOrg.objects.filter(name__iexact=name.strip())
        .order_by("pk")
        .values_list("public_id", flat=True)[:10]
    )


def org_name_suggestions(term: str, *, limit: int = 10) -> list[str]:
    """Org names starting with `term`, then containing it, for a filter's suggestions."""
    term = term.strip()
    if not term:
        return []
    names = list(
        CustomerOrg.objects.filter(name__istartswith=term)
        .order_by("name")
        .values_list("name", flat=True)[:limit]
    )
    if len(names) < limit:
        names += [
            n
            for n in CustomerOrg.objects.filter(name__icontains=term)
            .exclude(name__istartswith=term)
            .order_by("name")
            .values_list("name", flat=True)[: limit - len(names)]
        ]
    return list(dict.fromkeys(names))
