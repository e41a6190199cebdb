"""The Webex surface: ``/v1`` routes and the JWKS under ``/idb``.

Behaviour follows ``../shared/webex/README.md`` and, where public sources are silent, its
"where the emulator must choose" table. Route-specific choices are in each handler's docstring.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import auth, ids, schemas, views
from .errors import WebexError, missing_fields
from .jws import data_source_claims
from .runtime import CONTEXT_KEY, Emulator, RequestContext
from .state import DataSource, IntegrationClient, Store, Token, Webhook
from .validation import DataSourcePayload, check_authorized, parse_data_source_body

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000

WEBHOOK_RESOURCES = (
    "attachmentActions",
    "dataSources",
    "memberships",
    "messages",
    "rooms",
    "meetings",
    "recordings",
    "convergedRecordings",
    "meetingParticipants",
    "meetingTranscripts",
    "telephony_calls",
    "telephony_conference",
    "telephony_mwi",
    "uc_counters",
    "serviceApp",
    "adminBatchJobs",
)
WEBHOOK_EVENTS = (
    "created",
    "updated",
    "deleted",
    "started",
    "ended",
    "joined",
    "left",
    "migrated",
    "authorized",
    "deauthorized",
    "statusChanged",
)


# --------------------------------------------------------------------------- helpers


def emulator_of(request: Request) -> Emulator:
    emulator: Emulator = request.app.state.emulator
    return emulator


def context_of(request: Request) -> RequestContext:
    context: RequestContext = request.scope[CONTEXT_KEY]
    return context


def public_base(request: Request) -> str:
    """``--public-url`` if given, else the scheme and host the client used."""
    configured = emulator_of(request).options.public_url
    if configured:
        return configured.rstrip("/")
    return str(request.base_url).rstrip("/")


def issuer(request: Request) -> str:
    return public_base(request) + "/idb"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON constant {name}")


async def read_json(request: Request) -> dict[str, Any]:
    """The JSON object body: 415 unless ``Content-Type`` is JSON, 400 if malformed."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/json" and not (
        media.startswith("application/") and media.endswith("+json")
    ):
        raise WebexError(415, "Unsupported Media Type: the request body must be application/json.")
    raw = await request.body()
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise WebexError(400, "The request body is not valid JSON.", [str(exc)]) from exc
    if not isinstance(data, dict):
        raise WebexError(400, "The request body must be a JSON object.")
    return data


def page_window(request: Request) -> tuple[int, int]:
    """``(offset, max)`` from the ``max`` and ``cursor`` query parameters."""
    raw_max = request.query_params.get("max")
    limit = DEFAULT_PAGE_SIZE
    if raw_max is not None:
        if not raw_max.isdigit() or not 1 <= int(raw_max) <= MAX_PAGE_SIZE:
            raise WebexError(400, f"max must be an integer from 1 to {MAX_PAGE_SIZE}.")
        limit = int(raw_max)
    offset = 0
    cursor = request.query_params.get("cursor")
    if cursor is not None:
        try:
            decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
            offset = int(decoded.removeprefix("offset:")) if decoded.startswith("offset:") else -1
        except (binascii.Error, ValueError, UnicodeDecodeError):
            offset = -1
        if offset < 0:
            raise WebexError(400, "The cursor parameter is invalid.")
    return offset, limit


def next_link(request: Request, next_offset: int, limit: int) -> str:
    """RFC 5988 ``Link`` to the next page, absolute, keeping the other query parameters."""
    params = [
        (key, value)
        for key, value in request.query_params.multi_items()
        if key not in ("max", "cursor")
    ]
    cursor = base64.urlsafe_b64encode(f"offset:{next_offset}".encode()).decode().rstrip("=")
    params += [("max", str(limit)), ("cursor", cursor)]
    return f'<{public_base(request)}{request.url.path}?{urlencode(params)}>; rel="next"'


def paged(
    request: Request, items: list[dict[str, Any]], has_more: bool, offset: int, limit: int
) -> JSONResponse:
    headers = {"Link": next_link(request, offset + limit, limit)} if has_more else {}
    return JSONResponse({"items": items}, headers=headers)


def principal_of(request: Request) -> auth.Principal:
    return auth.authenticate(emulator_of(request), request, context_of(request))


# ---------------------------------------------------------------------- data sources


def _sign(
    request: Request,
    source_id: str,
    org_id: str,
    client_id: str,
    payload: DataSourcePayload,
    created: tuple[str, float] | None,
) -> DataSource:
    """Sign a fresh JWS for the payload and build the stored data source."""
    emulator = emulator_of(request)
    now = emulator.store.now()
    issued_at = int(now)
    claims = data_source_claims(
        issuer=issuer(request),
        audience=payload.audience,
        subject=payload.subject,
        nonce=payload.nonce,
        url=payload.url,
        schema_id=payload.schema_id,
        org_id=org_id,
        issued_at=issued_at,
        lifetime_minutes=payload.token_lifetime_minutes,
    )
    actor = views.machine_account_id(client_id, org_id)
    created_by, created_at = created if created else (actor, now)
    return DataSource(
        id=source_id,
        client_id=client_id,
        org_id=org_id,
        schema_id=payload.schema_id,
        url=payload.url,
        audience=payload.audience,
        subject=payload.subject,
        nonce=payload.nonce,
        token_lifetime_minutes=payload.token_lifetime_minutes,
        status=payload.status,
        error_message=payload.error_message,
        jws_token=emulator.keys.sign(claims),
        token_expiry=float(claims["exp"]),
        kid=emulator.keys.current.kid,
        created_by=created_by,
        created_at=created_at,
        updated_by=actor,
        updated_at=now,
    )


def _snapshot(request: Request, principal: auth.Principal) -> tuple[list[str], list[str]]:
    assert principal.app is not None
    authorization = emulator_of(request).store.get_authorization(
        principal.app.client_id, principal.org_id
    )
    if authorization is None:  # authenticate() already checked; a race with deauthorize is a 403
        raise WebexError(403, "The organization no longer authorizes this Service App.")
    return authorization.valid_domains, authorization.schema_ids


async def register_data_source(request: Request) -> Response:
    """``POST /v1/dataSources``: 200 (the spec's code) with the data source and a fresh JWS.

    The URL and schema are checked against the org's authorization *snapshot*, not the app's
    current settings: an app changed after the org authorized it keeps the old rules for that
    org until it reauthorizes.
    """
    principal = principal_of(request)
    app = auth.require_org_token(principal, auth.SCOPE_DATASOURCE_WRITE)
    body = await read_json(request)
    context = context_of(request)
    if isinstance(body.get("nonce"), str):
        context.nonce = body["nonce"]
    payload = parse_data_source_body(body, update=False)
    domains, schema_ids = _snapshot(request, principal)
    check_authorized(payload, domains, schema_ids)
    source = _sign(request, ids.new_uuid(), principal.org_id, app.client_id, payload, None)
    emulator_of(request).store.insert_data_source(source, context.tracking_id)
    context.data_source_id = source.id
    return JSONResponse(views.data_source(source))


async def list_data_sources(request: Request) -> Response:
    """``GET /v1/dataSources`` (and ``/v1/dataSources/``): this org's sources of this app."""
    principal = principal_of(request)
    app = auth.require_org_token(principal, auth.SCOPE_DATASOURCE_READ)
    offset, limit = page_window(request)
    items, has_more = emulator_of(request).store.list_data_sources(
        app.client_id, principal.org_id, offset, limit
    )
    return paged(request, [views.data_source(item) for item in items], has_more, offset, limit)


def _owned_source(request: Request, principal: auth.Principal) -> DataSource:
    """The data source in the path, or 404 if it is not this org's and this app's."""
    assert principal.app is not None
    source_id = request.path_params["dataSourceId"]
    context_of(request).data_source_id = source_id
    source = emulator_of(request).store.get_data_source(
        source_id, principal.app.client_id, principal.org_id
    )
    if source is None:
        raise WebexError(404, f"Data source {source_id} not found.")
    return source


async def get_data_source(request: Request) -> Response:
    """``GET /v1/dataSources/{id}``: includes the stored ``jwsToken`` and ``tokenExpiryTime``."""
    principal = principal_of(request)
    auth.require_org_token(principal, auth.SCOPE_DATASOURCE_READ)
    return JSONResponse(views.data_source(_owned_source(request, principal)))


async def update_data_source(request: Request) -> Response:
    """``PUT /v1/dataSources/{id}``: the full payload, ``status`` included; signs a new JWS.

    ``schemaId`` is part of the full payload but cannot change (it is not in the docs' list of
    updatable fields): a different one is a 400.
    """
    principal = principal_of(request)
    app = auth.require_org_token(principal, auth.SCOPE_DATASOURCE_WRITE)
    current = _owned_source(request, principal)
    body = await read_json(request)
    context = context_of(request)
    if isinstance(body.get("nonce"), str):
        context.nonce = body["nonce"]
    payload = parse_data_source_body(body, update=True)
    if payload.schema_id != current.schema_id:
        raise WebexError(
            400,
            "Invalid value for field(s): schemaId",
            ["schemaId: cannot be changed by an update"],
        )
    domains, schema_ids = _snapshot(request, principal)
    check_authorized(payload, domains, schema_ids)
    source = _sign(
        request,
        current.id,
        principal.org_id,
        app.client_id,
        payload,
        (current.created_by, current.created_at),
    )
    emulator_of(request).store.update_data_source(source, context.tracking_id)
    return JSONResponse(views.data_source(source))


async def delete_data_source(request: Request) -> Response:
    """``DELETE /v1/dataSources/{id}``: 204 with an empty body."""
    principal = principal_of(request)
    auth.require_org_token(principal, auth.SCOPE_DATASOURCE_WRITE)
    source = _owned_source(request, principal)
    emulator_of(request).store.delete_data_source(source.id)
    return Response(status_code=204)


async def list_schemas(request: Request) -> Response:
    """``GET /v1/dataSources/schemas``: any valid token (the spec needs no specific scope)."""
    principal_of(request)
    return JSONResponse({"items": [dict(item) for item in schemas.all_schemas()]})


async def get_schema(request: Request) -> Response:
    principal_of(request)
    schema_id = request.path_params["schemaId"]
    found = schemas.get_schema(schema_id)
    if found is None:
        raise WebexError(404, f"Schema {schema_id} not found.")
    return JSONResponse(found)


# ---------------------------------------------------------------- Service App tokens


def _token_response(
    access_value: str, access_expires: float, refresh_value: str, refresh_expires: float, now: float
) -> JSONResponse:
    return JSONResponse(
        {
            "access_token": access_value,
            "expires_in": max(0, round(access_expires - now)),
            "refresh_token": refresh_value,
            "refresh_token_expires_in": max(0, round(refresh_expires - now)),
            "token_type": "Bearer",
        }
    )


async def create_app_token(request: Request) -> Response:
    """``POST /v1/applications/{applicationId}/token``: an org token for the Service App.

    Order of checks: the integration bearer (401/403, scope ``spark:applications_token``), the
    body (415/400 naming missing fields), the app in the path (404; standard base64 and unpadded
    base64url both accepted), the credentials (401), the org id (400 if it is neither a UUID nor
    a base64 org id), the org's authorization (403).
    """
    principal = principal_of(request)
    auth.require_integration(principal, auth.SCOPE_APPLICATIONS)
    body = await read_json(request)
    required = ("clientId", "clientSecret", "targetOrgId")
    missing = [name for name in required if body.get(name) in (None, "")]
    if missing:
        raise missing_fields(missing)
    wrong_type = [name for name in required if not isinstance(body[name], str)]
    if wrong_type:
        raise WebexError(
            400,
            f"Invalid value for field(s): {', '.join(wrong_type)}",
            [f"{n} must be a string" for n in wrong_type],
        )

    store = emulator_of(request).store
    client_id = ids.parse_application_id(request.path_params["applicationId"])
    app = store.get_app(client_id) if client_id else None
    if app is None:
        raise WebexError(404, "Service App not found.")
    context = context_of(request)
    context.client_id = app.client_id
    if not (
        hmac.compare_digest(body["clientId"].encode(), app.client_id.encode())
        and hmac.compare_digest(body["clientSecret"].encode(), app.client_secret.encode())
    ):
        raise WebexError(
            401, "Invalid client credentials", ["The provided clientId or clientSecret is invalid"]
        )
    org_id = ids.parse_org_id(body["targetOrgId"])
    if org_id is None:
        raise WebexError(
            400,
            "Invalid value for field(s): targetOrgId",
            ["targetOrgId must be an organization id"],
        )
    context.org_id = org_id
    if store.get_authorization(app.client_id, org_id) is None:
        raise WebexError(403, "The organization has not authorized this Service App.")
    refresh = store.issue_refresh_token(app, org_id)
    access = store.issue_access_token(app, org_id, refresh.value)
    return _token_response(
        access.value, access.expires_at, refresh.value, refresh.expires_at, store.now()
    )


def _oauth_error(status: int, code: str, message: str) -> WebexError:
    return WebexError(status, message, oauth_error=code)


def _refresh_grant(store: Store, value: str, kind: str, client_id: str) -> Token:
    """The refresh token ``value`` if it is of ``kind`` and belongs to ``client_id``.

    Anything else is ``400 invalid_grant``, as an OAuth server answers a grant that was not issued
    to the authenticated client: in particular a Service App cannot use an integration's refresh
    token, nor an integration a Service App's.
    """
    token = store.get_token(value)
    if token is None or token.kind != kind or token.client_id != client_id:
        raise _oauth_error(400, "invalid_grant", "The refresh token is invalid.")
    return token


def _check_refresh_usable(token: Token, now: float) -> None:
    """Revoked (deauthorized, rotated out) or expired refresh tokens are ``400 invalid_grant``."""
    if token.revoked_at is not None:
        raise _oauth_error(
            400, "invalid_grant", f"The refresh token has been revoked ({token.revoked_reason})."
        )
    if token.expires_at <= now:
        raise _oauth_error(400, "invalid_grant", "The refresh token has expired.")


def _renew_refresh(store: Store, token: Token, issue: Callable[[], Token]) -> tuple[str, float]:
    """``(value, expires_at)`` of the refresh token to return after a successful refresh.

    By default the same token, its window restarted (Webex keeps refresh tokens alive while they
    are used); with ``rotateRefreshTokens`` a new one from ``issue`` and the old one revoked.
    """
    now = store.now()
    if store.config.rotate_refresh_tokens:
        store.revoke_token(token.value, "rotated")
        fresh = issue()
        return fresh.value, fresh.expires_at
    expires_at = now + store.config.refresh_token_lifetime_seconds
    store.extend_token(token.value, expires_at)
    return token.value, expires_at


def _refresh_integration_token(
    request: Request, client: IntegrationClient, refresh_value: str
) -> Response:
    """The integration half of ``POST /v1/access_token``: a new integration access token.

    It has the person and scopes the person granted the integration, so it works wherever the
    first one did (minting org tokens, the Service App object, the person's webhooks). Earlier
    access tokens are not revoked: like Webex, they stay valid until they expire.
    """
    store = emulator_of(request).store
    context_of(request).client_id = client.client_id
    token = _refresh_grant(store, refresh_value, "integration_refresh", client.client_id)
    now = store.now()
    _check_refresh_usable(token, now)
    value, expires_at = _renew_refresh(
        store, token, lambda: store.issue_integration_refresh_token(client)
    )
    access = store.issue_integration_access_token(client, value)
    return _token_response(access.value, access.expires_at, value, expires_at, now)


async def refresh_access_token(request: Request) -> Response:
    """``POST /v1/access_token`` with ``grant_type=refresh_token`` (form-encoded).

    ``client_id`` and ``client_secret`` are a Service App's (the refresh token is an org token's)
    or the partner integration's (the refresh token is an integration token's, see
    :class:`~webex_emulator.state.IntegrationClient`); the answer has the same shape for both.
    By default the refresh token comes back unchanged and its 90-day window restarts (Webex keeps
    refresh tokens alive while they are used). With ``rotateRefreshTokens`` a new refresh token
    is issued and the old one stops working. Unknown, expired, revoked or rotated-out refresh
    tokens, refresh tokens of another client, and tokens of a deauthorized org, are
    ``400 invalid_grant``; bad client credentials are ``401 invalid_client``.
    """
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        raise WebexError(415, "Unsupported Media Type: use application/x-www-form-urlencoded.")
    raw = await request.body()
    try:
        form = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError as exc:
        raise _oauth_error(
            400, "invalid_request", "The request body is not valid form data."
        ) from exc
    grant_type = form.get("grant_type")
    if not grant_type:
        raise _oauth_error(400, "invalid_request", "grant_type is required")
    if grant_type != "refresh_token":
        raise _oauth_error(
            400, "unsupported_grant_type", f"grant_type {grant_type!r} is not supported"
        )
    missing = [
        name for name in ("client_id", "client_secret", "refresh_token") if not form.get(name)
    ]
    if missing:
        raise WebexError(
            400,
            f"Missing required field(s): {', '.join(missing)}",
            [f"{name} is required" for name in missing],
            oauth_error="invalid_request",
        )

    store = emulator_of(request).store
    secret = form["client_secret"].encode()
    app = store.get_app(form["client_id"])
    if app is None:
        client = store.get_integration_client(form["client_id"])
        if client is None or not hmac.compare_digest(secret, client.client_secret.encode()):
            raise _oauth_error(401, "invalid_client", "Invalid client credentials")
        return _refresh_integration_token(request, client, form["refresh_token"])
    if not hmac.compare_digest(secret, app.client_secret.encode()):
        raise _oauth_error(401, "invalid_client", "Invalid client credentials")
    context = context_of(request)
    context.client_id = app.client_id
    token = _refresh_grant(store, form["refresh_token"], "refresh", app.client_id)
    now = store.now()
    assert token.org_id is not None
    org_id = token.org_id
    context.org_id = org_id
    _check_refresh_usable(token, now)
    if store.get_authorization(app.client_id, org_id) is None:
        raise _oauth_error(
            400, "invalid_grant", "The organization no longer authorizes this Service App."
        )
    value, expires_at = _renew_refresh(store, token, lambda: store.issue_refresh_token(app, org_id))
    access = store.issue_access_token(app, org_id, value)
    return _token_response(access.value, access.expires_at, value, expires_at, now)


async def get_application(request: Request) -> Response:
    """``GET /v1/applications/{applicationId}``: the Service App object (integration bearer).

    Not in the public OpenAPI spec; shaped as the developer guide shows it, with one
    ``authorizationsList`` entry per authorizing org carrying that org's snapshot.
    """
    raw_id: str = request.path_params["applicationId"]
    if raw_id.endswith("/token"):
        raise WebexError(405, "Method Not Allowed", headers={"Allow": "POST"})
    principal = principal_of(request)
    auth.require_integration(principal)
    store = emulator_of(request).store
    client_id = ids.parse_application_id(raw_id)
    app = store.get_app(client_id) if client_id else None
    if app is None:
        raise WebexError(404, "Service App not found.")
    entries = [
        views.authorization_entry(item, store.get_org(item.org_id))
        for item in store.list_authorizations(app.client_id)
    ]
    return JSONResponse(views.service_app_object(app, entries))


# --------------------------------------------------------------------------- webhooks


def _check_target_url(value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebexError(
            400, "Invalid value for field(s): targetUrl", ["targetUrl must be an http(s) URL"]
        )


def _optional_strings(body: dict[str, Any], names: tuple[str, ...]) -> None:
    wrong = [
        name for name in names if body.get(name) is not None and not isinstance(body[name], str)
    ]
    if wrong:
        raise WebexError(
            400,
            f"Invalid value for field(s): {', '.join(wrong)}",
            [f"{n} must be a string" for n in wrong],
        )


async def create_webhook(request: Request) -> Response:
    """``POST /v1/webhooks``: 200 with the webhook. Any valid bearer (org or integration).

    Webhooks belong to the caller's identity (the person behind an integration token, or the
    Service App in one org), so refreshed tokens still see them and nobody else does.
    """
    principal = principal_of(request)
    body = await read_json(request)
    missing = [
        name for name in ("name", "targetUrl", "resource", "event") if body.get(name) in (None, "")
    ]
    if missing:
        raise missing_fields(missing)
    _optional_strings(
        body, ("name", "targetUrl", "resource", "event", "filter", "secret", "ownedBy")
    )
    problems = []
    if body["resource"] not in WEBHOOK_RESOURCES:
        problems.append(("resource", f"must be one of {', '.join(WEBHOOK_RESOURCES)}"))
    if body["event"] not in WEBHOOK_EVENTS:
        problems.append(("event", f"must be one of {', '.join(WEBHOOK_EVENTS)}"))
    if problems:
        raise WebexError(
            400,
            f"Invalid value for field(s): {', '.join(name for name, _ in problems)}",
            [f"{name}: {text}" for name, text in problems],
        )
    _check_target_url(body["targetUrl"])
    hook = Webhook(
        id=ids.encode(ids.WEBHOOK, ids.new_uuid()),
        owner=principal.owner,
        name=body["name"],
        target_url=body["targetUrl"],
        resource=body["resource"],
        event=body["event"],
        filter=body.get("filter") or None,
        secret=body.get("secret") or None,
        owned_by=body.get("ownedBy") or None,
        status="active",
        created=emulator_of(request).store.now(),
        org_id=principal.org_id,
        created_by=ids.encode(ids.PEOPLE, principal.person_id),
        app_id=principal.webex_app_id,
    )
    emulator_of(request).store.insert_webhook(hook)
    return JSONResponse(views.webhook(hook))


async def list_webhooks(request: Request) -> Response:
    principal = principal_of(request)
    offset, limit = page_window(request)
    owned_by = request.query_params.get("ownedBy")
    hooks, has_more = emulator_of(request).store.list_webhooks(
        principal.owner, offset, limit, owned_by
    )
    return paged(request, [views.webhook(hook) for hook in hooks], has_more, offset, limit)


def _owned_webhook(request: Request, principal: auth.Principal) -> Webhook:
    webhook_id = request.path_params["webhookId"]
    hook = emulator_of(request).store.get_webhook(webhook_id, principal.owner)
    if hook is None:
        raise WebexError(404, f"Webhook {webhook_id} not found.")
    return hook


async def get_webhook(request: Request) -> Response:
    principal = principal_of(request)
    return JSONResponse(views.webhook(_owned_webhook(request, principal)))


async def update_webhook(request: Request) -> Response:
    """``PUT /v1/webhooks/{id}``: ``name`` and ``targetUrl`` required; ``secret``, ``ownedBy``
    kept when absent; ``status`` may only be ``active`` (reactivates the webhook)."""
    principal = principal_of(request)
    hook = _owned_webhook(request, principal)
    body = await read_json(request)
    missing = [name for name in ("name", "targetUrl") if body.get(name) in (None, "")]
    if missing:
        raise missing_fields(missing)
    _optional_strings(body, ("name", "targetUrl", "secret", "ownedBy", "status"))
    if body.get("status") not in (None, "active"):
        raise WebexError(
            400, "Invalid value for field(s): status", ["status: only 'active' may be set"]
        )
    _check_target_url(body["targetUrl"])
    updated = replace(
        hook,
        name=body["name"],
        target_url=body["targetUrl"],
        secret=body.get("secret", hook.secret),
        owned_by=body.get("ownedBy", hook.owned_by),
        status="active",
    )
    emulator_of(request).store.update_webhook(updated)
    return JSONResponse(views.webhook(updated))


async def delete_webhook(request: Request) -> Response:
    principal = principal_of(request)
    hook = _owned_webhook(request, principal)
    emulator_of(request).store.delete_webhook(hook.id)
    return Response(status_code=204)


# ------------------------------------------------------------------------------ JWKS


async def verification_jwks(request: Request) -> Response:
    """``GET /idb/oauth2/v2/keys/verificationjwk``: current and previous public keys."""
    return JSONResponse(emulator_of(request).keys.jwks())


def by_method(path: str, **handlers: Callable[[Request], Awaitable[Response]]) -> Route:
    """One route per path, dispatching on the method, so a 405 lists every allowed method."""
    table = {method.upper(): handler for method, handler in handlers.items()}

    async def dispatch(request: Request) -> Response:
        return await table[request.method if request.method != "HEAD" else "GET"](request)

    return Route(path, dispatch, methods=list(table))


routes = [
    by_method("/v1/dataSources", post=register_data_source, get=list_data_sources),
    by_method("/v1/dataSources/", get=list_data_sources),
    by_method("/v1/dataSources/schemas", get=list_schemas),
    by_method("/v1/dataSources/schemas/{schemaId}", get=get_schema),
    by_method(
        "/v1/dataSources/{dataSourceId}",
        get=get_data_source,
        put=update_data_source,
        delete=delete_data_source,
    ),
    # ``:path`` so a standard-base64 id containing "/" (raw or %2F-encoded) still matches.
    by_method("/v1/applications/{applicationId:path}/token", post=create_app_token),
    by_method("/v1/applications/{applicationId:path}", get=get_application),
    by_method("/v1/access_token", post=refresh_access_token),
    by_method("/v1/webhooks", post=create_webhook, get=list_webhooks),
    by_method(
        "/v1/webhooks/{webhookId}", get=get_webhook, put=update_webhook, delete=delete_webhook
    ),
    by_method("/idb/oauth2/v2/keys/verificationjwk", get=verification_jwks),
]
