"""How a call for one data source reaches Webex: with the org's access token (refreshed once
on a 401, shared across a batch by `AccessTokens`), and under the data source's in-flight lease,
so only one call for it is ever at Webex (`_take_lease`, `_push`, `_settled_after`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TypeVar

from django.db import transaction
from django.utils import timezone

from audit.context import log_scope
from core import policy as rules
from core.webex_adapter import webex_client_for
from tenants.models import CustomerOrg, OrgToken
from tenants.services import org_tokens_refresh
from webex.errors import WebexError, WebexTransportError, WebexUnauthorized
from webex.types import DataSource as RemoteDataSource

from ..models import DataSource, NonceRecord
from ._common import DataSourceBusy, DataSourceError, _request, new_nonce

T = TypeVar("T")


def _access_token(org: CustomerOrg) -> tuple[str, int]:
    token = OrgToken.objects.only("access_token", "version").get(org=org)
    return token.access_token, token.version


class AccessTokens:
    """Decrypted org access tokens (with their version) kept for one batch of rotations, so a
    batch reads and decrypts each org's token once instead of once per rotation. A 401 still
    refreshes and replaces the entry. Thread-safe: entries are whole tuples, swapped at once.
    In memory only, never logged; dropped with the batch."""

    def __init__(self) -> None:
        self._by_org: dict[int, tuple[str, int]] = {}

    def get(self, org: CustomerOrg) -> tuple[str, int]:
        token = self._by_org.get(org.pk)
        if token is None:
            token = self._by_org[org.pk] = _access_token(org)
        return token

    def reload(self, org: CustomerOrg) -> tuple[str, int]:
        token = self._by_org[org.pk] = _access_token(org)
        return token

    def __repr__(self) -> str:
        return f"<AccessTokens for {len(self._by_org)} org(s)>"


def _with_refresh(
    org: CustomerOrg,
    call: Callable[[str], T],
    actor,
    tokens: AccessTokens | None = None,
) -> T:
    """Call Webex with the org's token; on 401 refresh it once (single-flight) and retry."""
    tokens = tokens or AccessTokens()
    with log_scope(org_id=org.public_id):  # the client's log lines name the org
        access, version = tokens.get(org)
        try:
            return call(access)
        except WebexUnauthorized:
            org_tokens_refresh(org_id=org.pk, seen_version=version, actor=actor)
            access, new_version = tokens.reload(org)
            if new_version == version:
                raise
            return call(access)


def _expiry(remote: RemoteDataSource) -> dt.datetime | None:
    return remote.token_expiry_time


def _lease_until(now: dt.datetime) -> dt.datetime:
    """How long a call for one data source may be in flight before its caller counts as dead
    (the client's timeouts and retries must fit inside; see ROTATION_LEASE_SECONDS)."""
    return rules.lease_until(now)


def _settled_after(
    exc: BaseException | None, now: dt.datetime, called_at: dt.datetime
) -> dt.datetime | None:
    """The in-flight lease once a call has ended (`exc` None: it succeeded). An answer ends
    it at once; no answer (a timeout, a reset) may mean the request is still being processed
    at Webex, so the lease holds until it has settled before another call for the data source
    may go out. The same after an answer when the call took that long or longer: the client
    re-sends a PUT whose answer did not come in time, so the answer may be the re-send's while
    the first attempt is still at Webex, and would undo a change sent next."""
    if isinstance(exc, WebexTransportError) or now - called_at >= rules.policy().settle:
        return rules.settled_at(now)
    return None


def _in_flight(ds: DataSource, now: dt.datetime) -> bool:
    return ds.inflight_until is not None and ds.inflight_until > now


def _busy(ds: DataSource) -> DataSourceBusy:
    return DataSourceBusy(
        f"A change to {ds.url} is in flight at Webex right now; try again in a few seconds."
    )


@transaction.atomic
def _take_lease(ds: DataSource) -> None:
    """Under the row lock: refuse a deleted data source, or one with a call in flight
    (`DataSourceBusy`); otherwise hold the in-flight lease for the caller's call."""
    now = timezone.now()
    locked = DataSource.objects.select_for_update(of=("self",)).get(pk=ds.pk)
    if locked.deleted_at:
        raise DataSourceError(f"{ds.url} is deleted: nothing is sent to Webex.")
    if _in_flight(locked, now):
        raise _busy(ds)
    DataSource.objects.filter(pk=ds.pk).update(inflight_until=_lease_until(now))


def _push(
    ds: DataSource,
    *,
    purpose: str,
    status: str,
    message: str,
    data=None,
    actor=None,
    tokens: AccessTokens | None = None,
) -> tuple[RemoteDataSource, dt.datetime | None]:
    """Send the full payload with a fresh nonce and return Webex's answer.

    Single flight: under the row lock the call takes the in-flight lease (refused with
    `DataSourceBusy` while a rotation or another change holds it) and records its nonce; the
    lease is released with the outcome, whatever it is. Returns Webex's answer and the lease's
    end for the caller to store with it (None, or a moment to let an earlier attempt settle)."""
    nonce = new_nonce()
    with transaction.atomic():
        _take_lease(ds)
        NonceRecord.objects.create(datasource=ds, nonce=nonce, purpose=purpose, attempts=1)
    client = webex_client_for(ds.org.service_app)
    called_at = timezone.now()
    try:
        remote = _with_refresh(
            ds.org,
            lambda access: client.update_datasource(
                access_token=access,
                datasource_id=ds.webex_id,
                request=_request(data or ds, nonce=nonce, status=status, message=message),
            ),
            actor,
            tokens,
        )
    except WebexError as exc:
        with transaction.atomic():
            DataSource.objects.filter(pk=ds.pk).update(
                inflight_until=_settled_after(exc, timezone.now(), called_at)
            )
            NonceRecord.objects.filter(nonce=nonce).update(
                outcome=NonceRecord.Outcome.FAILED,
                error=str(exc)[:500],
                tracking_id=exc.tracking_id or "",
            )
        raise
    except BaseException:
        DataSource.objects.filter(pk=ds.pk).update(inflight_until=None)
        raise
    NonceRecord.objects.filter(nonce=nonce).update(
        outcome=NonceRecord.Outcome.OK, token_expires_at=_expiry(remote)
    )
    return remote, _settled_after(None, timezone.now(), called_at)
