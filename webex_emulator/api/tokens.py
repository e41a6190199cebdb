"""Service App tokens: org tokens minted with an integration bearer, ``POST /v1/access_token``
(refresh, for Service Apps and the partner integration alike), and the Service App object."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import auth, ids, views
from ..errors import WebexError, missing_fields
from ..state import IntegrationClient, ServiceApp, Store, Token
from .common import context_of, emulator_of, principal_of, read_json


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


async def _refresh_form(request: Request) -> dict[str, str]:
    """The form of ``POST /v1/access_token``: 415 unless form-encoded, ``400 invalid_request``
    if it is not form data or lacks a field, ``400 unsupported_grant_type`` unless it asks
    for ``grant_type=refresh_token``."""
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
    return form


def _refresh_app_token(request: Request, app: ServiceApp, refresh_value: str) -> Response:
    """The Service App half of ``POST /v1/access_token``: a new org token for the org of the
    refresh token. A refresh token of an org that no longer authorizes the app is
    ``400 invalid_grant``."""
    store = emulator_of(request).store
    context = context_of(request)
    context.client_id = app.client_id
    token = _refresh_grant(store, refresh_value, "refresh", app.client_id)
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
    form = await _refresh_form(request)
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
    return _refresh_app_token(request, app, form["refresh_token"])


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
