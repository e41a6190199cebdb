"""The Webex HTTP client: every call the portal makes to Webex goes through `WebexClient`.

What it guarantees:
- One pooled `requests.Session` per process (rebuilt after a fork), connect and read timeouts
  on every call, and a `TrackingID` header on every request, logged with status and duration.
  Its value comes from `tracking_ids` (default `BYODS_<uuid4>`); the portal's adapter puts the
  correlation id of the request or task in it. One call keeps its id through its retries.
- Failures become typed exceptions (`webex.errors`) carrying status, message, `trackingId` and
  `Retry-After`. Nothing is swallowed.
- Retries only where safe: GET, PUT and DELETE are retried on 502/503/504 and on transport
  errors with capped exponential backoff and full jitter. POST never is, since a lost answer may
  mean the call took effect. 429 (and 423) honour `Retry-After` while it stays under a cap (a
  429 means the request was not processed, so waiting is safe for every method); beyond the cap
  `WebexRateLimited` is raised so the caller can reschedule instead of blocking a worker.
- Bearer tokens are passed per call (org tokens, the partner's integration token) and are
  never logged; `Link: rel="next"` is followed only to the same origin as the API base, so a
  token is never sent to another host.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import os
import random
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from . import ids
from .errors import (
    WebexError,
    WebexRateLimited,
    WebexTransportError,
    error_class_for,
)
from .metrics import LEDGER, TRANSPORT_ERROR
from .types import (
    DataSource,
    DataSourceRequest,
    Schema,
    ServiceAppInfo,
    TokenPair,
    Webhook,
)

logger = logging.getLogger("webex.client")

IDEMPOTENT = frozenset({"GET", "PUT", "DELETE", "HEAD"})
RETRY_STATUSES = frozenset({502, 503, 504})
DEFAULT_RETRY_AFTER = 15.0  # seconds, when a 429 comes without the header
# What every request carries besides its own headers (requests' defaults, with our name).
DEFAULT_HEADERS = {
    "User-Agent": "byods-portal (+python-requests)",
    "Accept-Encoding": "gzip, deflate",
}
# No usable HTTP answer: refused or reset connections, timeouts, bodies cut off mid-stream.
TRANSPORT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)

_session_lock = threading.Lock()
_session: requests.Session | None = None
_session_pid: int | None = None


def shared_session(pool_size: int = 64) -> requests.Session:
    """The process-wide pooled session; a forked child builds its own."""
    global _session, _session_pid
    with _session_lock:
        if _session is None or _session_pid != os.getpid():
            session = requests.Session()
            # requests re-reads the environment on every call (a measurable share of a
            # rotation's CPU). Without proxies there, read it once: the CA bundle it names
            # (REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE) is what requests would have used.
            if not urllib.request.getproxies_environment():
                session.trust_env = False
                bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
                if bundle:
                    session.verify = bundle
            adapter = HTTPAdapter(pool_connections=8, pool_maxsize=pool_size, max_retries=0)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            _session, _session_pid = session, os.getpid()
        return _session


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4  # first try included
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    retry_after_cap: float = 5.0  # wait for a 429 at most this long in-process, else raise

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
        return random.uniform(0, min(self.backoff_cap, self.backoff_base * 2**attempt))


class WebexClient:
    """Calls the Webex REST API of one region.

    `api_base` is like `https://webexapis.com/v1`; `idbroker_base` like
    `https://idbroker.webex.com/idb` (where the JWKS lives).
    """

    def __init__(
        self,
        *,
        api_base: str,
        idbroker_base: str = "",
        connect_timeout: float = 5.0,
        read_timeout: float = 20.0,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], dt.datetime] | None = None,
        tracking_ids: Callable[[], str] | None = None,
    ) -> None:
        self.api_base = api_base.rstrip("/")
        self._tracking_ids = tracking_ids or new_tracking_id
        self.idbroker_base = idbroker_base.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.retry = retry or RetryPolicy()
        self._session = session
        self._sleep = sleep
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        origin = urlsplit(self.api_base)
        self._origin = (origin.scheme, origin.netloc)

    @classmethod
    def from_settings(cls, **overrides: Any) -> WebexClient:
        from django.conf import settings

        kwargs: dict[str, Any] = {
            "api_base": settings.WEBEX_API_BASE,
            "idbroker_base": settings.WEBEX_IDBROKER_BASE,
            "connect_timeout": settings.WEBEX_CONNECT_TIMEOUT,
            "read_timeout": settings.WEBEX_READ_TIMEOUT,
        }
        return cls(**(kwargs | overrides))

    @property
    def session(self) -> requests.Session:
        return self._session or shared_session()

    # ------------------------------------------------------------------ data sources
    def list_datasources(self, *, access_token: str, page_size: int = 100) -> list[DataSource]:
        return list(self.iter_datasources(access_token=access_token, page_size=page_size))

    def iter_datasources(self, *, access_token: str, page_size: int = 100) -> Iterator[DataSource]:
        """Every data source of the token's org, following `Link: rel="next"` page by page."""
        for item in self._paginate("/dataSources", access_token, {"max": page_size}):
            yield DataSource.from_json(item)

    def get_datasource(self, *, access_token: str, datasource_id: str) -> DataSource:
        data = self._json("GET", f"/dataSources/{datasource_id}", token=access_token)
        return DataSource.from_json(data)

    def register_datasource(
        self, *, access_token: str, request: DataSourceRequest, tracking_id: str | None = None
    ) -> DataSource:
        """POST: never retried automatically (a lost answer may have registered it)."""
        data = self._json(
            "POST",
            "/dataSources",
            token=access_token,
            json=request.to_json(),
            tracking_id=tracking_id,
            ok=(200, 201),
        )
        return DataSource.from_json(data)

    def update_datasource(
        self,
        *,
        access_token: str,
        datasource_id: str,
        request: DataSourceRequest,
        tracking_id: str | None = None,
    ) -> DataSource:
        """PUT with the full payload, `status` included (Webex requires it on every update)."""
        if request.status is None:
            raise ValueError("an update needs the full payload, status included")
        data = self._json(
            "PUT",
            f"/dataSources/{datasource_id}",
            token=access_token,
            json=request.to_json(),
            tracking_id=tracking_id,
        )
        return DataSource.from_json(data)

    def delete_datasource(
        self, *, access_token: str, datasource_id: str, tracking_id: str | None = None
    ) -> None:
        self._request(
            "DELETE",
            f"/dataSources/{datasource_id}",
            token=access_token,
            tracking_id=tracking_id,
            ok=(200, 204),
        )

    def list_schemas(self, *, access_token: str) -> list[Schema]:
        data = self._json("GET", "/dataSources/schemas", token=access_token)
        return [Schema.from_json(item) for item in data.get("items", [])]

    def get_schema(self, *, access_token: str, schema_id: str) -> Schema:
        return Schema.from_json(
            self._json("GET", f"/dataSources/schemas/{schema_id}", token=access_token)
        )

    # ------------------------------------------------------------------ tokens
    def org_token(
        self,
        *,
        integration_token: str,
        client_id: str,
        client_secret: str,
        target_org_id: str,
    ) -> TokenPair:
        """Fetch an org's tokens for the Service App (`POST /applications/{id}/token`).

        `target_org_id` may be the org's UUID or its base64 id; the base64 form is sent.
        403: the org has not authorized the app; 404: unknown app.
        """
        now = self._clock()
        body = {
            "clientId": client_id,
            "clientSecret": client_secret,
            "targetOrgId": ids.org_webex_id(ids.org_uuid(target_org_id)),
        }
        data = self._json(
            "POST",
            f"/applications/{ids.application_id(client_id)}/token",
            token=integration_token,
            json=body,
        )
        return TokenPair.from_json(data, now=now)

    def refresh_access_token(
        self, *, client_id: str, client_secret: str, refresh_token: str
    ) -> TokenPair:
        """`POST /access_token` (form-encoded refresh grant). Keeps the old refresh token when
        Webex returns none. Expired or revoked refresh token -> `WebexInvalidGrant`."""
        now = self._clock()
        data = self._json(
            "POST",
            "/access_token",
            data={
                "grant_type": "refresh_token",
                "client_id": client_id,
                "client_secret": client_secret,
                "refresh_token": refresh_token,
            },
        )
        return TokenPair.from_json(data, now=now, previous_refresh_token=refresh_token)

    def get_service_app(self, *, integration_token: str, client_id: str) -> ServiceAppInfo:
        """The Service App with its `authorizationsList` (best effort: not in the public spec)."""
        data = self._json(
            "GET", f"/applications/{ids.application_id(client_id)}", token=integration_token
        )
        return ServiceAppInfo.from_json(data)

    # ------------------------------------------------------------------ JWKS
    def fetch_jwks(self, *, issuer: str | None = None) -> dict[str, Any]:
        """The JSON Web Key Set of an issuer (default: this region's identity broker)."""
        base = (issuer or self.idbroker_base).rstrip("/")
        return self._json("GET", f"{base}/oauth2/v2/keys/verificationjwk", absolute=True)

    # ------------------------------------------------------------------ webhooks
    def create_webhook(
        self,
        *,
        token: str,
        name: str,
        target_url: str,
        resource: str,
        event: str,
        filter: str | None = None,  # noqa: A002 - Webex's field name
        secret: str | None = None,
    ) -> Webhook:
        body: dict[str, Any] = {
            "name": name,
            "targetUrl": target_url,
            "resource": resource,
            "event": event,
        }
        if filter:
            body["filter"] = filter
        if secret:
            body["secret"] = secret
        return Webhook.from_json(self._json("POST", "/webhooks", token=token, json=body))

    def list_webhooks(self, *, token: str, page_size: int = 100) -> list[Webhook]:
        return [
            Webhook.from_json(item)
            for item in self._paginate("/webhooks", token, {"max": page_size})
        ]

    def delete_webhook(self, *, token: str, webhook_id: str) -> None:
        self._request("DELETE", f"/webhooks/{webhook_id}", token=token, ok=(200, 204))

    # ------------------------------------------------------------------ plumbing
    def _paginate(self, path: str, token: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        url: str | None = path
        query: dict[str, Any] | None = params
        while url:
            response = self._request("GET", url, token=token, params=query, absolute=url != path)
            yield from _body(response, "GET").get("items", [])
            url = response.links.get("next", {}).get("url")
            query = None  # the next link carries its own query
            if url and not self._same_origin(url):
                raise WebexError(
                    f"refusing to follow a pagination link to another host: {urlsplit(url).netloc}"
                )

    def _same_origin(self, url: str) -> bool:
        parts = urlsplit(url)
        return (parts.scheme, parts.netloc) == self._origin

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return _body(self._request(method, path, **kwargs), method)

    def _request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        params: dict[str, Any] | None = None,
        json: Any = None,
        data: dict[str, str] | None = None,
        tracking_id: str | None = None,
        ok: tuple[int, ...] = (200,),
        absolute: bool = False,
    ) -> requests.Response:
        """One call with its retries: transport failures and 502/503/504 of idempotent
        methods back off and try again, a 429 waits for Retry-After while the wait stays
        within `retry.retry_after_cap`; everything else is raised as a typed WebexError."""
        url = path if absolute else f"{self.api_base}{path}"
        shown = urlsplit(url).path  # what logs and errors show: no host, no query
        tracking_id = tracking_id or self._tracking_ids()
        headers = {"TrackingID": tracking_id, "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        send = functools.partial(
            self._send_once, method, url, shown, headers, params, json, data, tracking_id
        )
        attempt = 0
        waited_for_rate_limit = 0.0
        while True:
            can_retry = attempt + 1 < self.retry.max_attempts
            try:
                response = send(attempt)
            except WebexTransportError:
                if method in IDEMPOTENT and can_retry:
                    self._sleep(self.retry.backoff(attempt))
                    attempt += 1
                    continue
                raise
            if response.status_code in ok:
                return response
            if method == "DELETE" and attempt > 0 and response.status_code == 404:
                # An earlier attempt's answer was lost after Webex had deleted it: done.
                return response
            tid = response.headers.get("trackingId") or tracking_id
            error = self._error(response, method, shown, tid)
            if isinstance(error, WebexRateLimited):
                wait = error.retry_after if error.retry_after is not None else DEFAULT_RETRY_AFTER
                if not can_retry or waited_for_rate_limit + wait > self.retry.retry_after_cap:
                    raise error
                waited_for_rate_limit += wait
            elif response.status_code in RETRY_STATUSES and method in IDEMPOTENT and can_retry:
                wait = self.retry.backoff(attempt)
            else:
                raise error
            self._sleep(wait)
            attempt += 1

    def _send_once(
        self,
        method: str,
        url: str,
        shown: str,
        headers: dict[str, str],
        params: dict[str, Any] | None,
        json: Any,
        data: dict[str, str] | None,
        tracking_id: str,
        attempt: int,
    ) -> requests.Response:
        """One HTTP attempt, logged; no usable answer is a WebexTransportError."""
        started = time.monotonic()
        try:
            response = self._send(method, url, params, json, data, headers)
        except TRANSPORT_ERRORS as exc:
            seconds = time.monotonic() - started
            LEDGER.record(method=method, path=shown, status=TRANSPORT_ERROR, seconds=seconds)
            elapsed = seconds * 1000
            kind = "timeout" if isinstance(exc, requests.Timeout) else "connection error"
            logger.warning(
                "webex %s %s -> %s after %.0f ms trackingId=%s attempt=%d",
                method,
                shown,
                kind,
                elapsed,
                tracking_id,
                attempt + 1,
            )
            raise WebexTransportError(
                f"{kind} talking to Webex", tracking_id=tracking_id, method=method, path=shown
            ) from exc
        seconds = time.monotonic() - started
        LEDGER.record(method=method, path=shown, status=str(response.status_code), seconds=seconds)
        elapsed = seconds * 1000
        logger.info(
            "webex %s %s -> %s in %.0f ms trackingId=%s",
            method,
            shown,
            response.status_code,
            elapsed,
            response.headers.get("trackingId") or tracking_id,
        )
        return response

    def _send(
        self,
        method: str,
        url: str,
        params: dict[str, Any] | None,
        json: Any,
        data: dict[str, str] | None,
        headers: dict[str, str],
    ) -> requests.Response:
        """The request through the session's connection pool. Without proxies from the
        environment, the request goes straight to the pool's adapter: `Session.request` would
        merge session settings, cookies, hooks and redirect rules this client never uses, a
        third of a rotation's HTTP CPU. With proxies set, requests resolves them per call."""
        session = self.session
        if session.trust_env:
            return session.request(
                method,
                url,
                params=params,
                json=json,
                data=data,
                headers={**DEFAULT_HEADERS, **headers},
                timeout=self.timeout,
                allow_redirects=False,
            )
        prepared = requests.Request(
            method, url, params=params, json=json, data=data, headers={**DEFAULT_HEADERS, **headers}
        ).prepare()
        return session.get_adapter(url).send(
            prepared,
            timeout=self.timeout,
            verify=True if session.verify is None else session.verify,
            cert=session.cert,
        )

    @staticmethod
    def _error(response: requests.Response, method: str, path: str, tid: str) -> WebexError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        code = body.get("error") if isinstance(body.get("error"), str) else None
        descriptions = [
            e.get("description", "") for e in body.get("errors") or [] if isinstance(e, dict)
        ]
        message = (
            body.get("message")
            or body.get("error_description")
            or code
            or response.reason
            or "error"
        )
        retry_after = sent = None
        if response.status_code in (423, 429):
            sent = _retry_after(response)
            retry_after = DEFAULT_RETRY_AFTER if sent is None else sent
        cls = error_class_for(response.status_code, code)
        return cls(
            str(message),
            status=response.status_code,
            tracking_id=body.get("trackingId") or tid,
            retry_after=retry_after,
            retry_after_sent=sent is not None,
            errors=[d for d in descriptions if d],
            code=code,
            method=method,
            path=path,
        )


def new_tracking_id() -> str:
    """A TrackingID of our own, unique per call: `BYODS_<uuid4>`."""
    return f"BYODS_{uuid.uuid4()}"


def _body(response: requests.Response, method: str) -> Any:
    """The JSON body of a successful answer; a typed error (with trackingId) when it is not."""
    try:
        return response.json()
    except ValueError:
        raise WebexError(
            f"Webex answered {response.status_code} without a JSON body",
            status=response.status_code,
            tracking_id=response.headers.get("trackingId"),
            method=method,
            path=urlsplit(response.url).path,
        ) from None


def _retry_after(response: requests.Response) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or HTTP date), or None."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        from email.utils import parsedate_to_datetime

        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000" means UTC with no stated zone
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())
