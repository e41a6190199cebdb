"""Reads for the org pages, which tell an org's story across apps: its tokens (tenants), its
data sources and their health (datasources) and what happened to it (audit). They live here,
above the apps, because no app may read a higher one."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from alerts.wording import duration_words
from audit.models import AuditEvent
from audit.selectors import AuditFilter, audit_events
from datasources import selectors as ds_selectors
from tenants.models import CustomerOrg

RECENT_EVENTS = 10


@dataclass(frozen=True)
class OrgDeadline:
    """One deadline of an org, labelled for what it is."""

    kind: str  # access | refresh | jws
    label: str  # "Org access token expires"
    moment: dt.datetime
    words: str  # "in 9 min" / "9 min ago"
    lapsed: bool

    @property
    def sentence(self) -> str:
        verb = {"expires": "expired", "lapses": "lapsed"}
        label = self.label
        if self.lapsed:
            for present, past in verb.items():
                label = label.replace(present, past)
        return f"{label} {self.words}"


def org_deadlines(org: CustomerOrg, *, now: dt.datetime) -> list[OrgDeadline]:
    """The org's next deadline of each kind, soonest first: its access token (refresh keeps it
    ahead), its refresh token (past it, only the admin's reauthorization helps) and the soonest
    JWS among its running data sources (one indexed read)."""
    found: list[tuple[str, str, dt.datetime | None]] = []
    token = getattr(org, "token", None)
    if token is not None and token.destroyed_at is None:
        found.append(("access", "Org access token expires", token.access_expires_at))
        found.append(("refresh", "Refresh token expires", token.refresh_expires_at))
    found.append(
        ("jws", "Soonest data source JWS expires", ds_selectors.datasource_soonest_expiry(org=org))
    )
    deadlines = []
    for kind, label, moment in found:
        if moment is None:
            continue
        lapsed = moment <= now
        words = (
            f"{duration_words(now - moment)} ago"
            if lapsed
            else f"in {duration_words(moment - now)}"
        )
        deadlines.append(OrgDeadline(kind, label, moment, words, lapsed))
    return sorted(deadlines, key=lambda d: d.moment)


def org_recent_events(org: CustomerOrg, *, limit: int = RECENT_EVENTS) -> list[AuditEvent]:
    """The org's latest audit events, newest first (audit_org_idx)."""
    return list(audit_events(AuditFilter(org_id=org.public_id))[:limit])


def org_needs_reauthorization(org: CustomerOrg) -> bool:
    """Whether the org's admin must (re)authorize the Service App in Control Hub: Webex
    refused the refresh token, the admin removed the app, or the app gained domains or
    schemas the org's snapshot lacks."""
    if org.status in {CustomerOrg.Status.REAUTHORIZATION_REQUIRED, CustomerOrg.Status.DEAUTHORIZED}:
        return True
    moved_on = org.app_moved_on
    return bool(moved_on["domains"] or moved_on["schema_ids"])


CONTROL_HUB_URL = "https://admin.webex.com"


def reauthorization_text(org: CustomerOrg) -> str:
    """What the customer's admin needs to reauthorize, to paste into an e-mail or a ticket.
    Control Hub has no deep link to one Service App, so the link is Control Hub with the path
    to follow and the app's client id to search for."""
    app = org.service_app
    return (
        f"Please reauthorize the Service App “{app.name}” for {org.name}: sign in to Control "
        f"Hub at {CONTROL_HUB_URL} as a Full Administrator, open Management > Apps > Service "
        f"Apps, find “{app.name}” (client id {app.client_id}) and choose Authorize."
    )
