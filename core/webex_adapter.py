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

import secrets
import time
from collections.abc import Callable
from typing import Protocol

from django.conf import settings

from audit.context import bound_correlation
from webex.client import WebexClient, new_tracking_id
from webex.errors import (
    WebexError,
    WebexForbidden,
    WebexInvalidGrant,
    WebexNotFound,
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


def explain(error: WebexError) -> str:
    """Why Webex refused, in words staff can act on."""
    tid = f" (Webex trackingId {error.tracking_id})" if error.tracking_id else ""
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
    return f"Webex call failed: {error.message}{tid}"
