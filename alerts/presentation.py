"""What staff read about an alert, computed from the current state whenever it is shown (page,
API) or sent (mail, webhook): its headline, owner, cause and next step.

Nothing here is stored: the alert row keeps a short title (`summary`) for history and search,
and the headline says what is true now ("data stops flowing in 7 min", then "data stopped
flowing 3 min ago"). Reads only; the caller passes an alert loaded with `ALERT_RELATED`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Perm
from datasources.models import DataSource, DriftFinding, stops_flow

from .models import Alert, Kind, Quiet
from .wording import deadline_words, duration_words, failed_words

# What `present` reads, for select_related on the lists and the API.
ALERT_RELATED = (
    "org__owner",
    "org__token",
    "service_app",
    "datasource",
    "owner",
    "acknowledged_by",
)


@dataclass(frozen=True)
class Cause:
    """Why: the last error Webex (or the portal) gave, its trackingId, since when."""

    error: str = ""
    tracking_id: str = ""
    since: dt.datetime | None = None

    def words(self) -> str:
        parts = [self.error or "no error recorded"]
        if self.tracking_id:
            parts.append(f"trackingId {self.tracking_id}")
        if self.since is not None:
            parts.append(f"since {self.since:%Y-%m-%d %H:%M} UTC")
        return "; ".join(parts)


@dataclass(frozen=True)
class NextStep:
    """What to do next, and the button that does it (if any): `method` "post" is a form
    button, "get" a link; `perm` says who may press it (others read only the text)."""

    text: str
    label: str = ""
    url: str = ""
    method: str = "get"
    perm: str = Perm.VIEW_PORTAL


@dataclass(frozen=True)
class Presented:
    headline: str
    severity: str
    owner: str
    cause: Cause
    next_step: NextStep
    quiet: str  # "" unless snoozed or silenced right now


def owner_words(alert: Alert) -> str:
    """The org's owner now, else the owner when the alert opened, else the team default."""
    if alert.org is not None and alert.org.owner is not None:
        return alert.org.owner.get_username()
    if alert.owner is not None:
        return alert.owner.get_username()
    return settings.ALERT_DEFAULT_OWNER


def quiet_words(alert: Alert, now: dt.datetime) -> str:
    if not alert.is_quiet(now):
        return ""
    until = (
        f"until {alert.quiet_until:%Y-%m-%d %H:%M} UTC"
        if alert.quiet_until is not None
        else "until resolved"
    )
    verb = Quiet(alert.quiet).label
    return f"{verb} {until} by {alert.quiet_by_label}: {alert.quiet_reason}"


def _org_token(alert: Alert):
    return getattr(alert.org, "token", None) if alert.org is not None else None


def _open_findings(org_ids) -> dict[int, list[DriftFinding]]:
    """org id -> its open drift findings, oldest first (one query for a whole page)."""
    found: dict[int, list[DriftFinding]] = {org_id: [] for org_id in org_ids}
    if not found:
        return found
    rows = (
        DriftFinding.objects.filter(org_id__in=list(found), resolved_at__isnull=True)
        .select_related("datasource")
        .order_by("found_at", "pk")
    )
    for finding in rows:
        found[finding.org_id].append(finding)
    return found


def _drift_words(alert: Alert, findings: list[DriftFinding] | None) -> tuple[str, Cause]:
    if findings is None:
        findings = _open_findings([alert.org_id]).get(alert.org_id or 0, [])
    n = len(findings)
    if not n:
        return alert.summary, Cause(since=alert.opened_at)
    head = f"{n} difference{'s' if n != 1 else ''} between the portal and Webex for " + (
        alert.org.name if alert.org else "an org"
    )
    stopped = [
        f"{f.datasource.url} ({stops_flow(f.details)})"
        for f in findings
        if f.datasource is not None
        and f.datasource.status == DataSource.Status.ACTIVE
        and stops_flow(f.details)
    ]
    if stopped:
        head += f"; not flowing: {', '.join(stopped[:3])}"
        if len(stopped) > 3:
            head += f" and {len(stopped) - 3} more"
    since = findings[0].found_at if findings else alert.opened_at
    kinds = sorted({f.get_kind_display().lower() for f in findings})
    return head, Cause(error="; ".join(kinds), since=since)


def _headline_and_cause(
    alert: Alert, now: dt.datetime, findings: list[DriftFinding] | None = None
) -> tuple[str, Cause]:
    kind, ds, org = alert.kind, alert.datasource, alert.org
    opened = Cause(since=alert.opened_at)
    if kind in (Kind.TOKEN_AT_RISK, Kind.ROTATION_FAILING) and ds is not None:
        cause = Cause(ds.last_error, ds.last_tracking_id, alert.opened_at)
        deadline = deadline_words(ds.token_expires_at, now)
        where = f"{org.name} – {ds.url}" if org is not None else ds.url
        failed = (
            f"rotation {failed_words(ds.consecutive_failures)}" if ds.consecutive_failures else ""
        )
        if kind == Kind.ROTATION_FAILING:
            return (f"Rotating {where} {failed_words(ds.consecutive_failures)}; {deadline}"), cause
        return f"{deadline.capitalize()} for {where}" + (f"; {failed}" if failed else ""), cause
    if kind == Kind.TOKEN_AT_RISK and org is not None:
        token = _org_token(alert)
        if token is None:
            return alert.summary, opened
        cause = Cause(token.last_error, token.last_tracking_id, alert.opened_at)
        head = f"{deadline_words(token.access_expires_at, now).capitalize()} for {org.name}: "
        head += "its access token"
        if token.consecutive_failures:
            head += f"; refreshing it {failed_words(token.consecutive_failures)}"
        return head, cause
    if kind == Kind.ORG_REAUTHORIZATION and org is not None:
        token = _org_token(alert)
        expires = token.access_expires_at if token else None
        cause = (
            Cause(token.last_error, token.last_tracking_id, alert.opened_at) if token else opened
        )
        return (
            f"{org.name} must reauthorize the Service App; {deadline_words(expires, now)}",
            cause,
        )
    if kind == Kind.DRIFT_FOUND and org is not None:
        return _drift_words(alert, findings)
    if kind == Kind.CLOCK_SKEW and ds is not None:
        where = f"{org.name} – {ds.url}" if org is not None else ds.url
        detail = ds.expiry_skew_detail or "Webex reported an expiry outside the token's lifetime"
        return (
            f"Clock skew suspected for {where}: {detail}",
            Cause(detail, ds.last_tracking_id, ds.expiry_skew_since or alert.opened_at),
        )
    if kind == Kind.INTEGRATION_TOKEN_FAILING and alert.service_app is not None:
        app = alert.service_app
        expires = app.integration_token_expires_at
        if expires is None:
            left = "its expiry is unknown"
        elif expires <= now:
            left = (
                f"it expired {duration_words(now - expires)} ago: new orgs cannot be onboarded "
                "until it is replaced"
            )
        else:
            left = f"it expires in {duration_words(expires - now)}"
        return (
            f"Refreshing the integration token of Service App {app.name} "
            f"{failed_words(app.integration_refresh_failures)}; {left}",
            Cause(app.integration_refresh_error, "", app.integration_refresh_failed_at),
        )
    return alert.summary, opened


def _next_step(alert: Alert) -> NextStep:
    kind, ds, org = alert.kind, alert.datasource, alert.org
    if kind in (Kind.TOKEN_AT_RISK, Kind.ROTATION_FAILING) and ds is not None:
        text = (
            "Rotate the JWS now. If Webex refuses again, read the cause: a 429 is retried by "
            "itself; anything else needs the data source checked at Webex."
        )
        if ds.deleted_at is not None or ds.status != DataSource.Status.ACTIVE:
            return NextStep(text)
        return NextStep(
            text,
            "Rotate now",
            reverse("datasources:rotate", args=[ds.public_id]),
            "post",
            Perm.EDIT_DATASOURCES,
        )
    if kind == Kind.TOKEN_AT_RISK and org is not None:
        return NextStep(
            "Refresh the org's tokens now. If Webex refuses its refresh token, the org's admin "
            "must reauthorize the Service App.",
            "Refresh now",
            reverse("tenants:org_refresh", args=[org.public_id]),
            "post",
            Perm.ONBOARD_ORGS,
        )
    if kind == Kind.ORG_REAUTHORIZATION and org is not None:
        return NextStep(
            "Send the org's admin the reauthorization link (on the org page): they reauthorize "
            "the Service App in Control Hub before the access token lapses.",
            "Reauthorization link",
            reverse("tenants:org_detail", args=[org.public_id]),
        )
    if kind == Kind.DRIFT_FOUND and org is not None:
        return NextStep(
            "Adopt what Webex has, or repair it from the portal; a data source changed or "
            "disabled at Webex does not flow until then.",
            "Adopt or repair drift",
            reverse("datasources:drift_list", args=[org.public_id]),
            "get",
            Perm.OPERATE,
        )
    if kind == Kind.CLOCK_SKEW and ds is not None:
        return NextStep(
            "Rotation already schedules with the token's own lifetime, so data keeps flowing. "
            "Check the clocks (ours: NTP; Webex's: its status page); the flag clears on the next "
            "rotation whose expiry is sane.",
            "Open the data source",
            reverse("datasources:detail", args=[ds.public_id]),
        )
    if kind == Kind.OFFBOARDING_STALLED and org is not None:
        return NextStep(
            "Open the org: offboarding retries by itself; see what it waits for.",
            "Open the org",
            reverse("tenants:org_detail", args=[org.public_id]),
        )
    if kind == Kind.INTEGRATION_TOKEN_FAILING and alert.service_app is not None:
        return NextStep(
            "Replace the Service App's integration token before it lapses.",
            "Open the Service App",
            reverse("tenants:serviceapp_detail", args=[alert.service_app.public_id]),
        )
    if kind == Kind.SCHEDULER_SILENT:
        return NextStep("Start celery beat (README, 'Operating the portal').")
    if kind == Kind.NO_WORKER:
        return NextStep("Start a Celery worker (README, 'Operating the portal').")
    return NextStep("Follow the incident and resolve it here when it is over.")


def present_many(alerts, now: dt.datetime | None = None) -> dict[int, Presented]:
    """alert pk -> how it reads now, for a page of alerts: the drift findings of every drift
    alert on the page are read in one query, the rest comes with `ALERT_RELATED`."""
    now = now or timezone.now()
    alerts = list(alerts)
    findings = _open_findings(
        {a.org_id for a in alerts if a.kind == Kind.DRIFT_FOUND and a.is_open and a.org_id}
    )
    return {a.pk: present(a, now, findings=findings.get(a.org_id)) for a in alerts}


def present(
    alert: Alert,
    now: dt.datetime | None = None,
    *,
    findings: list[DriftFinding] | None = None,
) -> Presented:
    """The alert as staff read it now. A resolved alert keeps its title as headline.
    `findings`: the org's open drift findings, when the caller read them already."""
    now = now or timezone.now()
    if alert.is_open:
        headline, cause = _headline_and_cause(alert, now, findings)
    else:
        headline, cause = alert.summary, Cause(since=alert.opened_at)
    return Presented(
        headline=headline,
        severity=alert.severity,
        owner=owner_words(alert),
        cause=cause,
        next_step=_next_step(alert),
        quiet=quiet_words(alert, now),
    )
