"""``/v1/dataSources``: register, list, read, update (a fresh JWS each time), delete; the schemas;
and the JWKS under ``/idb`` that verifies the data sources' JWS."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import auth, ids, schemas, views
from ..errors import WebexError
from ..jws import data_source_claims
from ..state import DataSource
from ..validation import DataSourcePayload, check_authorized, parse_data_source_body
from .common import context_of, emulator_of, issuer, page_window, paged, principal_of, read_json


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


# ------------------------------------------------------------------------------ JWKS


async def verification_jwks(request: Request) -> Response:
    """``GET /idb/oauth2/v2/keys/verificationjwk``: current and previous public keys."""
    return JSONResponse(emulator_of(request).keys.jwks())
