"""An org's tokens once it has them: storage, single-flight refresh, the refresh sweep's claim,
and their destruction at offboarding.

The refresh holds the org's token row lock across its single (timeout-bounded) call to Webex:
that lock is what makes refresh single-flight, so fifty concurrent triggers make one call (see
`org_tokens_refresh`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from audit.context import Actor, log_scope
from audit.redaction import changes
from audit.services import audit_record
from audit.vocabulary import Action
from core import policy as rules
from core.webex_adapter import explain, webex_client_for
from webex.errors import WebexError, WebexInvalidGrant, WebexUnauthorized
from webex.types import TokenPair

from ..models import CustomerOrg, OrgToken
from ._common import _org_target
from .lifecycle import org_transition

Status = CustomerOrg.Status


def _store_tokens(token: OrgToken, pair: TokenPair, *, now: dt.datetime, refreshed: bool) -> None:
    token.access_token = pair.access_token
    token.access_expires_at = pair.access_expires_at
    token.refresh_token = pair.refresh_token
    if pair.refresh_expires_at is not None:
        token.refresh_expires_at = pair.refresh_expires_at
    if refreshed:
        token.last_refreshed_at = now
    else:
        token.obtained_at = now
    token.next_refresh_at = rules.next_refresh_at(access_expires_at=pair.access_expires_at, now=now)
    token.claimed_until = None
    token.consecutive_failures = 0
    token.last_error = ""
    token.last_tracking_id = ""
    token.destroyed_at = None
    token.version += 1


def _token_summary(token: OrgToken) -> dict:
    """What the audit trail keeps about tokens: expiry times and version, never values."""
    return {
        "access_expires_at": token.access_expires_at,
        "refresh_expires_at": token.refresh_expires_at,
        "token_version": token.version,
    }


@dataclass(frozen=True)
class RefreshResult:
    # refreshed | already_refreshed | not_due | skipped | failed | reauthorization_required
    outcome: str
    version: int
    detail: str = ""


def org_token_due(token: OrgToken, now: dt.datetime) -> bool:
    return token.next_refresh_at is not None and token.next_refresh_at <= now


def _refreshed_since(token: OrgToken, seen_version: int | None, now: dt.datetime) -> bool:
    if token.last_refreshed_at is None:
        return False
    if seen_version is not None and token.version != seen_version:
        return True
    return rules.coalesces(token.last_refreshed_at, now)


def org_tokens_refresh(
    *,
    org_id: int,
    seen_version: int | None = None,
    force: bool = False,
    actor: Actor | None = None,
) -> RefreshResult:
    """Refresh an org's access token, single-flight.

    The token row is locked for the refresh and the need re-checked after taking the lock:
    concurrent callers queue on the lock and then find the work done. `seen_version` is the
    token version the caller saw: a caller that got a 401 refreshes only if nobody has replaced
    that token yet; a "refresh now" (`force`: button, API) is answered `already_refreshed` when
    the token was refreshed since it looked or within SINGLE_FLIGHT_SECONDS. So fifty
    concurrent callers of either kind cause one call to Webex. One function on purpose: the
    lock spans the re-check, the call and the stored answer, and that span is read whole.
    """
    now = timezone.now()
    with transaction.atomic():
        token = (
            OrgToken.objects.select_for_update()
            .select_related("org__service_app")
            .get(org_id=org_id)
        )
        org = token.org
        # An org being offboarded still needs a live token to disable or delete its data sources.
        usable = (Status.ACTIVE, Status.AUTHORIZED, Status.OFFBOARDING)
        if org.status not in usable or not token.has_tokens:
            return RefreshResult("skipped", token.version, f"org is {org.status}")
        if force and _refreshed_since(token, seen_version, now):
            return RefreshResult(
                "already_refreshed",
                token.version,
                f"refreshed by a concurrent request at {token.last_refreshed_at:%H:%M:%S} UTC",
            )
        if seen_version is not None:
            if token.version != seen_version:
                return RefreshResult("not_due", token.version, "already replaced")
        elif not force and not org_token_due(token, now):
            return RefreshResult("not_due", token.version)
        app = org.service_app
        try:
            # The one network call made under a row lock, bounded by the client's timeouts:
            # holding the lock is what keeps a second refresh from starting meanwhile.
            with log_scope(org_id=org.public_id):
                pair = webex_client_for(app).refresh_access_token(
                    client_id=app.client_id,
                    client_secret=app.client_secret,
                    refresh_token=token.refresh_token,
                )
        except (WebexInvalidGrant, WebexUnauthorized) as exc:
            return _refresh_dead(token, exc, actor)
        except WebexError as exc:
            return _refresh_failed(token, exc, actor, now)
        before = _token_summary(token)
        _store_tokens(token, pair, now=now, refreshed=True)
        token.save()
        audit_record(
            action=Action.ORG_TOKENS_REFRESHED,
            summary=f"Refreshed the access token of {org.name}"
            + (" (new refresh token)" if pair.refresh_token_rotated else ""),
            actor=actor,
            **_org_target(org),
            changes=changes(before, _token_summary(token)),
        )
        return RefreshResult("refreshed", token.version)


def _refresh_dead(token: OrgToken, exc: WebexError, actor: Actor | None) -> RefreshResult:
    """invalid_grant or 401: retrying cannot help. Stop refreshing and ask for reauthorization."""
    org = token.org
    before = org_transition(org, Status.REAUTHORIZATION_REQUIRED)
    org.save()
    token.next_refresh_at = None
    token.claimed_until = None
    token.consecutive_failures += 1
    token.last_error = explain(exc)
    token.last_tracking_id = exc.tracking_id or ""
    token.save()
    audit_record(
        action=Action.ORG_REAUTHORIZATION_REQUIRED,
        summary=f"{org.name} must reauthorize: Webex refused the refresh token",
        actor=actor,
        **_org_target(org),
        outcome="failed",
        error=str(exc),
        tracking_id=exc.tracking_id or "",
        changes={"status": {"before": before, "after": org.status}},
    )
    return RefreshResult("reauthorization_required", token.version, token.last_error)


def _refresh_failed(
    token: OrgToken, exc: WebexError, actor: Actor | None, now: dt.datetime
) -> RefreshResult:
    """A transient failure: back off exponentially (1, 2, 4 ... 60 min), never past expiry."""
    org = token.org
    token.consecutive_failures += 1
    retry_at = rules.refresh_retry_at(
        failures=token.consecutive_failures,
        retry_after=exc.retry_after,
        access_expires_at=token.access_expires_at,
        now=now,
    )
    token.next_refresh_at = retry_at
    token.claimed_until = None
    token.last_error = explain(exc, retry_at=retry_at, now=now)
    token.last_tracking_id = exc.tracking_id or ""
    token.save()
    audit_record(
        action=Action.ORG_TOKENS_REFRESH_FAILED,
        summary=f"Refreshing the token of {org.name} failed; retry at {retry_at:%H:%M} UTC",
        actor=actor,
        **_org_target(org),
        outcome="failed",
        error=str(exc),
        tracking_id=exc.tracking_id or "",
    )
    return RefreshResult("failed", token.version, token.last_error)


def org_tokens_claim_due(
    *, limit: int = 100, lease: dt.timedelta = dt.timedelta(minutes=5)
) -> list[int]:
    """Claim up to `limit` orgs whose refresh is due: a conditional UPDATE per candidate, so
    two sweeps never take the same org. Returns the claimed org ids."""
    now = timezone.now()
    candidates = list(
        OrgToken.objects.filter(next_refresh_at__lte=now)
        .exclude(claimed_until__gt=now)
        .order_by("next_refresh_at")
        .values_list("pk", "org_id", "claimed_until")[:limit]
    )
    claimed = []
    for pk, org_id, claimed_until in candidates:
        updated = OrgToken.objects.filter(pk=pk, claimed_until=claimed_until).update(
            claimed_until=now + lease
        )
        if updated:
            claimed.append(org_id)
    return claimed


@transaction.atomic
def org_tokens_destroy(*, org: CustomerOrg, actor: Actor | None = None) -> None:
    """Offboarding: the org's tokens are wiped (expiry times stay for the record)."""
    token = OrgToken.objects.select_for_update().filter(org=org).first()
    if token is None or not token.has_tokens:
        return
    token.access_token = ""
    token.refresh_token = ""
    token.next_refresh_at = None
    token.destroyed_at = timezone.now()
    token.version += 1
    token.save()
    audit_record(
        action=Action.ORG_TOKENS_DESTROYED,
        summary=f"Destroyed the tokens of {org.name}",
        actor=actor,
        **_org_target(org),
        reason=org.offboard_reason,
    )
