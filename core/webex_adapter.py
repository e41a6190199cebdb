"""The portal's side of Webex: a client for a Service App's region, and Webex's refusals in
words staff can act on. Both apps use it; `webex/` below it knows nothing of Django models.

Every call's `TrackingID` names the correlation id of the request or task that made it
(`BYODS_<correlation id>_<random>`): Webex support, given a tracking id from a Webex-side
log, can find the portal action (its audit events and log lines carry the same correlation
id), and each call stays unique. Outside any binding it is `BYODS_<uuid4>`.

`client_sleep` is how a client waits (back-off, Retry-After); tests replace it with a clock
that does not sleep (`core.tests.clocks`), so no test waits for real.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Callable
from typing import Protocol

from django.conf import settings
from django.utils import timezone

from audit.context import bound_correlation
from core import policy as rules
from webex.client import WebexClient, new_tracking_id
from webex.errors import (
    WebexError,
    WebexForbidden,
    WebexInvalidGrant,
    WebexNotFound,
    WebexRateLimited,
    WebexUnauthorized,
)

client_sleep: Callable[[float], None] = time.sleep


class HasRegion(Protocol):
    region: str


def webex_client_for(app: HasRegion) -> WebexClient:
    """A client for the Webex region of a Service App (unknown regions fall back to US)."""
    region = settings.WEBEX_REGIONS.get(app.region) or settings.WEBEX_REGIONS["us"]
    return WebexClient.from_settings(
        api_base=region["api"],
        idbroker_base=region["idbroker"],
        sleep=lambda seconds: client_sleep(seconds),
        tracking_ids=tracking_id,
    )


def tracking_id() -> str:
    """The TrackingID of one Webex call: the bound correlation id and 8 random hex digits."""
    cid = bound_correlation()
    if cid is None:
        return new_tracking_id()
    return f"BYODS_{cid}_{secrets.token_hex(4)}"


def tracking_note(error: WebexError) -> str:
    """ " (Webex trackingId: X)": what Webex support needs to find the call (every failure has
    one: Webex's, or the TrackingID the portal sent when no answer came back)."""
    return f" (Webex trackingId: {error.tracking_id})" if error.tracking_id else ""


def _seconds(wait: float) -> str:
    seconds = round(wait)
    if seconds < 120:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def _clock(moment: dt.datetime) -> str:
    return f"{moment.astimezone(dt.UTC):%H:%M:%S} UTC"


def _rate_limited(
    error: WebexRateLimited, retry_at: dt.datetime | None, now: dt.datetime | None
) -> str:
    """A 429 or 423 in Webex's own terms: how long it asked us to wait, and what happens then
    (retried automatically at a time, or the caller should try again after it)."""
    wait = error.retry_after if error.retry_after is not None else rules.retry_after_seconds(None)
    head = (
        "Webex reports the resource locked (423)"
        if error.status == 423
        else "Webex is rate-limiting (429)"
    )
    asked = (
        f"Webex asks us to wait {_seconds(wait)}"
        if error.retry_after_sent
        else f"Webex gave no Retry-After, so we wait {_seconds(wait)}"
    )
    if retry_at is not None:
        return f"{head}: {asked}; retried automatically at {_clock(retry_at)}."
    until = (now or timezone.now()) + dt.timedelta(seconds=wait)
    return f"{head}: {asked}; try again after {_clock(until)}."


def explain(
    error: WebexError, *, retry_at: dt.datetime | None = None, now: dt.datetime | None = None
) -> str:
    """Why Webex refused, in words staff can act on, always with its trackingId.

    `retry_at`: when the portal retries by itself (a rotation or refresh rescheduled); without
    it a rate limit says when the caller may try again (`now` + Webex's wait)."""
    tid = tracking_note(error)
    if isinstance(error, WebexRateLimited):
        return f"{_rate_limited(error, retry_at, now)}{tid}"
    if isinstance(error, WebexForbidden):
        return (
            "Webex refused: this org has not authorized the Service App (or removed it). "
            f"Ask the org's admin to authorize it in Control Hub.{tid}"
        )
    if isinstance(error, WebexNotFound):
        return f"Webex does not know this Service App: check its client id and region.{tid}"
    if isinstance(error, WebexUnauthorized):
        return (
            "Webex did not accept the partner integration token or the client secret: "
            f"update them on the Service App page.{tid}"
        )
    if isinstance(error, WebexInvalidGrant):
        return f"The refresh token is expired or revoked: the org must reauthorize.{tid}"
    again = f" Retried automatically at {_clock(retry_at)}." if retry_at is not None else ""
    said = error.message.rstrip(".")
    return f"Webex call failed: {said}.{again}{tid}" if again else f"Webex call failed: {said}{tid}"
