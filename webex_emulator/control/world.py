"""The world: health, Service Apps, orgs, integration tokens, authorizations, and the reset."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import __version__, ids, views
from ..api.common import emulator_of
from ..auth import SCOPE_APPLICATIONS, SCOPE_DATASOURCE_READ, SCOPE_DATASOURCE_WRITE
from ..errors import WebexError, missing_fields
from ..seed import seed_demo
from ..views import default_authorizer_id
from .common import (
    find_app,
    find_org,
    number,
    parse_domains,
    parse_schema_ids,
    read_body,
    string_list,
)
from .knobs import keys_json

DEFAULT_INTEGRATION_TOKEN_SECONDS = 14 * 24 * 3600


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok", "version": __version__})


async def create_service_app(request: Request) -> Response:
    body = await read_body(request)
    missing = [name for name in ("name", "validDomains", "dataSourceSchemaIds") if name not in body]
    if missing:
        raise missing_fields(missing)
    if not isinstance(body["name"], str) or not body["name"]:
        raise WebexError(400, "name must be a non-empty string")
    scopes = string_list(body, "scopes", [SCOPE_DATASOURCE_READ, SCOPE_DATASOURCE_WRITE])
    client_id = body.get("clientId")
    client_secret = body.get("clientSecret")
    for name, value in (("clientId", client_id), ("clientSecret", client_secret)):
        if value is not None and (not isinstance(value, str) or not value or "/" in value):
            raise WebexError(400, f"{name} must be a non-empty string without '/'")
    store = emulator_of(request).store
    if client_id and store.get_app(client_id):
        raise WebexError(409, f"Service App with clientId {client_id} already exists")
    if client_id and store.get_integration_client(client_id):
        raise WebexError(409, f"clientId {client_id} belongs to an integration client")
    app = store.create_service_app(
        body["name"],
        parse_domains(body),
        parse_schema_ids(body),
        scopes,
        client_id=client_id,
        client_secret=client_secret,
    )
    return JSONResponse(views.control_app(app), status_code=201)


async def list_service_apps(request: Request) -> Response:
    return JSONResponse(
        {"items": [views.control_app(app) for app in emulator_of(request).store.list_apps()]}
    )


async def patch_service_app(request: Request) -> Response:
    """Change the app; orgs that authorized earlier keep their snapshot until they reauthorize."""
    app = find_app(request, request.path_params["applicationId"])
    body = await read_body(request)
    name = body.get("name")
    if name is not None and (not isinstance(name, str) or not name):
        raise WebexError(400, "name must be a non-empty string")
    updated = emulator_of(request).store.update_app(
        app.client_id,
        name=name,
        valid_domains=parse_domains(body) if "validDomains" in body else None,
        schema_ids=parse_schema_ids(body) if "dataSourceSchemaIds" in body else None,
        scopes=string_list(body, "scopes") if "scopes" in body else None,
    )
    assert updated is not None
    return JSONResponse(views.control_app(updated))


async def create_org(request: Request) -> Response:
    body = await read_body(request)
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise missing_fields(["name"])
    region = body.get("region", "us")
    if not isinstance(region, str) or not region:
        raise WebexError(400, "region must be a non-empty string")
    org_id = body.get("id")
    if org_id is not None and (not isinstance(org_id, str) or not ids.is_uuid(org_id)):
        raise WebexError(400, "id must be a UUID")
    store = emulator_of(request).store
    if org_id and store.get_org(org_id.lower()):
        raise WebexError(409, f"Org {org_id} already exists")
    org = store.create_org(name, region, org_id)
    return JSONResponse(views.control_org(org), status_code=201)


async def list_orgs(request: Request) -> Response:
    return JSONResponse(
        {"items": [views.control_org(org) for org in emulator_of(request).store.list_orgs()]}
    )


async def create_integration_token(request: Request) -> Response:
    """The partner's own token. Scopes default to ``spark:applications_token``; lifetime 14 days.

    With ``withRefresh: true`` the token is issued the way a real integration gets it from the
    OAuth authorization-code flow: a new integration client (its own ``clientId`` and
    ``clientSecret``) and a refresh token (``refreshTokenLifetimeSeconds`` of the config, 90 days
    by default) come with it, for ``POST /v1/access_token``. Refreshed access tokens again live
    ``lifetimeSeconds``.
    """
    body = await read_body(request)
    scopes = string_list(body, "scopes", [SCOPE_APPLICATIONS])
    lifetime = DEFAULT_INTEGRATION_TOKEN_SECONDS
    if body.get("lifetimeSeconds") is not None:
        lifetime = int(number(body, "lifetimeSeconds", minimum=1))
    person_id = body.get("personId") or ids.new_uuid()
    if not isinstance(person_id, str):
        raise WebexError(400, "personId must be a string")
    with_refresh = body.get("withRefresh", False)
    if not isinstance(with_refresh, bool):
        raise WebexError(400, "withRefresh must be a boolean")
    store = emulator_of(request).store
    partner_org = ids.stable_uuid("partner-org")
    result: dict[str, Any] = {"scopes": scopes, "personId": person_id}
    if not with_refresh:
        token = store.issue_integration_token(scopes, lifetime, person_id, partner_org)
        result = {"accessToken": token.value, "expiresIn": lifetime, **result}
        return JSONResponse(result, status_code=201)
    client, access, refresh = store.issue_refreshable_integration_token(
        scopes, lifetime, person_id, partner_org
    )
    result = {
        "accessToken": access.value,
        "expiresIn": lifetime,
        **result,
        "refreshToken": refresh.value,
        "refreshTokenExpiresIn": max(0, round(refresh.expires_at - store.now())),
        "clientId": client.client_id,
        "clientSecret": client.client_secret,
    }
    return JSONResponse(result, status_code=201)


async def authorize(request: Request) -> Response:
    """An org's Full Admin authorizes the app: snapshot now, fire ``authorized`` webhooks."""
    body = await read_body(request)
    missing = [name for name in ("applicationId", "orgId") if not body.get(name)]
    if missing:
        raise missing_fields(missing)
    app = find_app(request, body["applicationId"])
    org = find_org(request, body["orgId"])
    authorizer_id = body.get("authorizerId") or default_authorizer_id(org.id)
    if not isinstance(authorizer_id, str):
        raise WebexError(400, "authorizerId must be a string")
    authorization = emulator_of(request).authorize(app, org, authorizer_id)
    return JSONResponse(views.control_authorization(authorization), status_code=201)


async def deauthorize(request: Request) -> Response:
    """The org removes the app: its tokens are revoked, ``deauthorized`` webhooks fire."""
    app = find_app(request, request.path_params["applicationId"])
    org = find_org(request, request.path_params["orgId"])
    authorization = emulator_of(request).deauthorize(app, org)
    if authorization is None:
        raise WebexError(404, "This org has not authorized this Service App")
    return JSONResponse(views.control_authorization(authorization))


async def list_authorizations(request: Request) -> Response:
    items = emulator_of(request).store.list_authorizations(include_inactive=True)
    return JSONResponse({"items": [views.control_authorization(item) for item in items]})


async def reset(request: Request) -> Response:
    """Wipe the world. Signing keys survive unless ``keepKeys`` is false (RSA keys are slow to
    make); ``seedDemo: true`` seeds the demo world afterwards."""
    body = await read_body(request)
    keep_keys = body.get("keepKeys", True)
    seed = body.get("seedDemo", False)
    if not isinstance(keep_keys, bool) or not isinstance(seed, bool):
        raise WebexError(400, "keepKeys and seedDemo must be booleans")
    emulator = emulator_of(request)
    await emulator.reset(keep_keys=keep_keys)
    if seed:
        seed_demo(emulator)
    return JSONResponse({"status": "reset", "seededDemo": seed, **keys_json(request)})
