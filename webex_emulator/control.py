"""The control surface under ``/_emulator`` (JSON in, JSON out).

A test tool's back door: it creates the world (Service Apps, orgs, integration tokens,
authorizations), bends it (faults, latency, clock, key rotation, config) and shows it (request log,
full state including secrets). Never expose it beyond the test or demo machine. Faults and latency
never apply here. Errors use the same Webex error body as ``/v1``. Every call is documented with
an example in ``docs/emulator.md``.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import __version__, ids, schemas, views
from .api import by_method, emulator_of
from .auth import SCOPE_APPLICATIONS, SCOPE_DATASOURCE_READ, SCOPE_DATASOURCE_WRITE
from .clock import iso
from .errors import WebexError, missing_fields
from .faults import FaultRule, Latency
from .httpclient import DeliveryError, post_for_reply
from .seed import seed_demo
from .state import CONFIG_JSON_NAMES, EmulatorConfig, Org, ServiceApp
from .validation import domain_problem
from .views import default_authorizer_id

DEFAULT_INTEGRATION_TOKEN_SECONDS = 14 * 24 * 3600


async def read_body(request: Request) -> dict[str, Any]:
    """JSON object body; an empty body is ``{}``."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise WebexError(400, "The request body is not valid JSON.", [str(exc)]) from exc
    if not isinstance(data, dict):
        raise WebexError(400, "The request body must be a JSON object.")
    return data


def _string_list(body: dict[str, Any], name: str, default: list[str] | None = None) -> list[str]:
    value = body.get(name, default)
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise WebexError(400, f"{name} must be a list of non-empty strings")
    return list(value)


def _number(body: dict[str, Any], name: str, *, minimum: float | None = None) -> float:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise WebexError(400, f"{name} must be a number")
    if minimum is not None and value < minimum:
        raise WebexError(400, f"{name} must be >= {minimum}")
    return float(value)


def _domains(body: dict[str, Any]) -> list[str]:
    domains = _string_list(body, "validDomains")
    for domain in domains:
        problem = domain_problem(domain)
        if problem:
            raise WebexError(400, f"validDomains: {domain!r} {problem}")
    return [domain.lower() for domain in domains]


def _schema_ids(body: dict[str, Any]) -> list[str]:
    chosen = _string_list(body, "dataSourceSchemaIds")
    known = set(schemas.schema_ids())
    unknown = [item for item in chosen if item not in known]
    if unknown:
        raise WebexError(400, f"dataSourceSchemaIds: unknown schema id(s) {', '.join(unknown)}")
    return chosen


def _find_app(request: Request, raw: Any) -> ServiceApp:
    """A Service App by ``applicationId`` (any base64 form) or plain client id; 404 otherwise."""
    if not isinstance(raw, str) or not raw:
        raise WebexError(400, "applicationId is required")
    store = emulator_of(request).store
    client_id = ids.parse_application_id(raw) or raw
    app = store.get_app(client_id)
    if app is None:
        raise WebexError(404, f"Service App {raw} not found")
    return app


def _find_org(request: Request, raw: Any) -> Org:
    if not isinstance(raw, str) or not raw:
        raise WebexError(400, "orgId is required")
    org_id = ids.parse_org_id(raw)
    org = emulator_of(request).store.get_org(org_id) if org_id else None
    if org is None:
        raise WebexError(404, f"Org {raw} not found")
    return org


# ------------------------------------------------------------------------ health, world


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok", "version": __version__})


async def create_service_app(request: Request) -> Response:
    body = await read_body(request)
    missing = [name for name in ("name", "validDomains", "dataSourceSchemaIds") if name not in body]
    if missing:
        raise missing_fields(missing)
    if not isinstance(body["name"], str) or not body["name"]:
        raise WebexError(400, "name must be a non-empty string")
    scopes = _string_list(body, "scopes", [SCOPE_DATASOURCE_READ, SCOPE_DATASOURCE_WRITE])
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
        _domains(body),
        _schema_ids(body),
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
    app = _find_app(request, request.path_params["applicationId"])
    body = await read_body(request)
    name = body.get("name")
    if name is not None and (not isinstance(name, str) or not name):
        raise WebexError(400, "name must be a non-empty string")
    updated = emulator_of(request).store.update_app(
        app.client_id,
        name=name,
        valid_domains=_domains(body) if "validDomains" in body else None,
        schema_ids=_schema_ids(body) if "dataSourceSchemaIds" in body else None,
        scopes=_string_list(body, "scopes") if "scopes" in body else None,
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
    scopes = _string_list(body, "scopes", [SCOPE_APPLICATIONS])
    lifetime = DEFAULT_INTEGRATION_TOKEN_SECONDS
    if body.get("lifetimeSeconds") is not None:
        lifetime = int(_number(body, "lifetimeSeconds", minimum=1))
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
    app = _find_app(request, body["applicationId"])
    org = _find_org(request, body["orgId"])
    authorizer_id = body.get("authorizerId") or default_authorizer_id(org.id)
    if not isinstance(authorizer_id, str):
        raise WebexError(400, "authorizerId must be a string")
    authorization = emulator_of(request).authorize(app, org, authorizer_id)
    return JSONResponse(views.control_authorization(authorization), status_code=201)


async def deauthorize(request: Request) -> Response:
    """The org removes the app: its tokens are revoked, ``deauthorized`` webhooks fire."""
    app = _find_app(request, request.path_params["applicationId"])
    org = _find_org(request, request.path_params["orgId"])
    authorization = emulator_of(request).deauthorize(app, org)
    if authorization is None:
        raise WebexError(404, "This org has not authorized this Service App")
    return JSONResponse(views.control_authorization(authorization))


async def list_authorizations(request: Request) -> Response:
    items = emulator_of(request).store.list_authorizations(include_inactive=True)
    return JSONResponse({"items": [views.control_authorization(item) for item in items]})


# ------------------------------------------------------------------- knobs: faults etc.


async def put_faults(request: Request) -> Response:
    body = await read_body(request)
    raw_rules = body.get("rules")
    if not isinstance(raw_rules, list):
        raise WebexError(400, "rules must be a list")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise WebexError(400, "seed must be an integer")
    rules = [FaultRule.from_json(index, raw) for index, raw in enumerate(raw_rules)]
    emulator = emulator_of(request)
    emulator.faults.set_rules(rules, seed)
    return JSONResponse(emulator.faults.to_json())


async def get_faults(request: Request) -> Response:
    return JSONResponse(emulator_of(request).faults.to_json())


async def delete_faults(request: Request) -> Response:
    emulator = emulator_of(request)
    emulator.faults.clear()
    return JSONResponse(emulator.faults.to_json())


async def put_latency(request: Request) -> Response:
    body = await read_body(request)
    ms = _number(body, "ms", minimum=0)
    jitter = _number(body, "jitterMs", minimum=0) if body.get("jitterMs") is not None else 0.0
    emulator = emulator_of(request)
    emulator.latency = Latency(ms, jitter)
    return JSONResponse(emulator.latency.to_json())


async def get_latency(request: Request) -> Response:
    return JSONResponse(emulator_of(request).latency.to_json())


async def put_config(request: Request) -> Response:
    """Partial update of the settings: only the fields present change."""
    body = await read_body(request)
    unknown = sorted(set(body) - set(CONFIG_JSON_NAMES))
    if unknown:
        raise WebexError(400, f"Unknown config field(s): {', '.join(unknown)}")
    emulator = emulator_of(request)
    values = emulator.store.config.to_json()
    for name, value in body.items():
        default = values[name]
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise WebexError(400, f"{name} must be a boolean")
        elif isinstance(default, int):
            value = int(_number(body, name, minimum=1))
        else:
            value = _number(body, name, minimum=0)
        values[name] = value
    config = EmulatorConfig(**{CONFIG_JSON_NAMES[name]: value for name, value in values.items()})
    emulator.store.save_config(config)
    return JSONResponse(config.to_json())


async def get_config(request: Request) -> Response:
    return JSONResponse(emulator_of(request).store.config.to_json())


def _clock_json(request: Request) -> dict[str, Any]:
    store = emulator_of(request).store
    now = store.now()
    return {"now": iso(now), "epochSeconds": now, "offsetSeconds": store.clock.offset}


async def advance_clock(request: Request) -> Response:
    body = await read_body(request)
    emulator_of(request).store.advance_clock(_number(body, "advanceSeconds"))
    return JSONResponse(_clock_json(request))


async def get_clock(request: Request) -> Response:
    return JSONResponse(_clock_json(request))


def _keys_json(request: Request) -> dict[str, Any]:
    keys = emulator_of(request).keys
    return {"kid": keys.current.kid, "previousKid": keys.previous.kid if keys.previous else None}


async def rotate_keys(request: Request) -> Response:
    emulator_of(request).keys.rotate()
    return JSONResponse(_keys_json(request))


async def get_keys(request: Request) -> Response:
    return JSONResponse(_keys_json(request))


# --------------------------------------------------------------------- delivery

DELIVERY_TIMEOUT_SECONDS = 10.0


def _loopback_problem(url: str) -> str | None:
    """Why the emulator must not connect to ``url``, or ``None`` for a loopback http(s) URL.

    The host is judged as written (``127.0.0.0/8``, ``::1``, ``localhost``, ``*.localhost``),
    never resolved, so a DNS name cannot smuggle the emulator onto another machine."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return "must be an http or https URL with a host and no user information"
    host = parts.hostname.lower()
    if host == "localhost" or host.endswith(".localhost"):
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    return "is not a loopback address: the emulator only delivers to this machine"


async def deliver(request: Request) -> Response:
    """Act like Webex opening a connection to a data source: POST to its URL (or to
    ``targetUrl``, for a test receiver) with ``Authorization: Bearer <its current JWS>`` and
    answer the receiver's status and body. Loopback targets only."""
    body = await read_body(request)
    source_id = body.get("dataSourceId")
    if not isinstance(source_id, str) or not source_id:
        raise WebexError(400, "dataSourceId is required")
    emulator = emulator_of(request)
    source = emulator.store.data_source_by_id(source_id)
    if source is None:
        raise WebexError(404, f"Data source {source_id} not found")
    target = body.get("targetUrl", source.url)
    if not isinstance(target, str) or not target:
        raise WebexError(400, "targetUrl must be a non-empty string")
    problem = _loopback_problem(target)
    if problem:
        field = "targetUrl" if "targetUrl" in body else "the data source url"
        raise WebexError(400, f"{field} {problem}; pass a loopback targetUrl")
    # Webex never presents a disabled data source's token, nor an expired one.
    if source.status != "active":
        raise WebexError(409, "The data source is disabled: Webex does not deliver to it.")
    if source.token_expiry <= emulator.store.now():
        raise WebexError(409, "The data source's JWS has expired: Webex does not deliver it.")
    payload = json.dumps(
        {
            "dataSourceId": source.id,
            "orgId": source.org_id,
            "deliveredAt": iso(emulator.store.now()),
        }
    ).encode()
    headers = {
        "Authorization": f"Bearer {source.jws_token}",
        "Content-Type": "application/json",
        "User-Agent": "webex-emulator-delivery",
    }
    try:
        status, reply = await post_for_reply(target, payload, headers, DELIVERY_TIMEOUT_SECONDS)
    except DeliveryError as exc:
        raise WebexError(502, f"The receiver at {target} could not be reached: {exc}") from exc
    return JSONResponse(
        {
            "dataSourceId": source.id,
            "targetUrl": target,
            "kid": source.kid,
            "nonce": source.nonce,
            "tokenExpiryTime": iso(source.token_expiry),
            "status": status,
            "body": reply.decode("utf-8", "replace"),
        }
    )


# --------------------------------------------------------------------- observation


def _log_item(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "time": iso(row["at"]),
        "method": row["method"],
        "path": row["path"],
        "query": row["query"],
        "status": row["status"],
        "orgId": row["org_id"],
        "clientId": row["client_id"],
        "nonce": row["nonce"],
        "trackingId": row["tracking_id"],
        "dataSourceId": row["data_source_id"],
        "fault": row["fault"],
        "durationMs": row["duration_ms"],
    }


async def get_requests(request: Request) -> Response:
    """The ``/v1`` (and ``/idb``) request log; ``?path=`` matches a substring of the path."""
    params = request.query_params
    limit = params.get("limit")
    if limit is not None and not limit.isdigit():
        raise WebexError(400, "limit must be a non-negative integer")
    org = params.get("orgId")
    rows = emulator_of(request).store.request_log(
        path=params.get("path"),
        method=params.get("method"),
        org_id=(ids.parse_org_id(org) or org) if org else None,
        limit=None if limit is None else int(limit),
    )
    return JSONResponse({"items": [_log_item(row) for row in rows]})


async def delete_requests(request: Request) -> Response:
    emulator_of(request).store.clear_request_log()
    return Response(status_code=204)


def _delivery_item(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "eventId": row["event_id"],
        "webhookId": row["webhook_id"],
        "resource": row["resource"],
        "event": row["event"],
        "targetUrl": row["target_url"],
        "payload": json.loads(row["payload"]),
        "signed": row["signed"],
        "state": row["state"],
        "attempts": row["attempts"],
        "lastStatus": row["last_status"],
        "lastError": row["last_error"],
        "attemptLog": [
            {"time": iso(item["at"]), "status": item["status"], "error": item["error"]}
            for item in row["attempt_log"]
        ],
        "createdAt": iso(row["created_at"]),
    }


async def get_deliveries(request: Request) -> Response:
    rows = emulator_of(request).store.list_deliveries()
    return JSONResponse({"items": [_delivery_item(row) for row in rows]})


def _stats_json(request: Request) -> dict[str, Any]:
    stats = emulator_of(request).stats
    return {
        "inFlight": stats.in_flight,
        "peakInFlight": stats.peak_in_flight,
        "served": stats.served,
    }


async def get_stats(request: Request) -> Response:
    return JSONResponse(_stats_json(request))


async def reset_stats(request: Request) -> Response:
    stats = emulator_of(request).stats
    stats.peak_in_flight = stats.in_flight
    stats.served = 0
    return JSONResponse(_stats_json(request))


def _nonce_item(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "dataSourceId": row["data_source_id"],
        "orgId": row["org_id"],
        "clientId": row["client_id"],
        "nonce": row["nonce"],
        "operation": row["operation"],
        "kid": row["kid"],
        "time": iso(row["at"]),
        "trackingId": row["tracking_id"],
    }


async def get_state(request: Request) -> Response:
    """Everything, secrets included (client secrets of Service Apps and integration clients,
    tokens, webhook secrets)."""
    emulator = emulator_of(request)
    store = emulator.store
    now = store.now()
    history = [_nonce_item(row) for row in store.nonce_history()]
    sources = []
    for source in store.all_data_sources():
        item = views.data_source(source)
        item["nonceHistory"] = [
            entry["nonce"] for entry in history if entry["dataSourceId"] == source.id
        ]
        sources.append(item)
    webhooks, _ = store.list_webhooks(None)
    events = [
        {
            "clientId": row["client_id"],
            "orgId": row["org_id"],
            "event": row["event"],
            "time": iso(row["at"]),
            "validDomains": json.loads(row["valid_domains"]),
            "dataSourceSchemaIds": json.loads(row["schema_ids"]),
        }
        for row in store.list_authorization_events()
    ]
    return JSONResponse(
        {
            "now": iso(now),
            "clock": _clock_json(request),
            "config": store.config.to_json(),
            "latency": emulator.latency.to_json(),
            "faults": emulator.faults.to_json(),
            "stats": _stats_json(request),
            "keys": _keys_json(request),
            "serviceApps": [views.control_app(app) for app in store.list_apps()],
            "integrationClients": [
                views.control_integration_client(client)
                for client in store.list_integration_clients()
            ],
            "orgs": [views.control_org(org) for org in store.list_orgs()],
            "authorizations": [
                views.control_authorization(item)
                for item in store.list_authorizations(include_inactive=True)
            ],
            "authorizationEvents": events,
            "tokens": [views.control_token(token, now) for token in store.list_tokens()],
            "dataSources": sources,
            "nonceHistory": history,
            "webhooks": [{**views.webhook(hook), "owner": hook.owner} for hook in webhooks],
            "webhookDeliveries": [_delivery_item(row) for row in store.list_deliveries()],
        }
    )


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
    return JSONResponse({"status": "reset", "seededDemo": seed, **_keys_json(request)})


routes = [
    by_method("/_emulator/health", get=health),
    by_method("/_emulator/service-apps", post=create_service_app, get=list_service_apps),
    by_method("/_emulator/service-apps/{applicationId:path}", patch=patch_service_app),
    by_method("/_emulator/orgs", post=create_org, get=list_orgs),
    by_method("/_emulator/integration-tokens", post=create_integration_token),
    by_method("/_emulator/authorizations", post=authorize, get=list_authorizations),
    by_method("/_emulator/authorizations/{applicationId:path}/{orgId}", delete=deauthorize),
    by_method("/_emulator/faults", put=put_faults, get=get_faults, delete=delete_faults),
    by_method("/_emulator/latency", put=put_latency, get=get_latency),
    by_method("/_emulator/config", put=put_config, get=get_config),
    by_method("/_emulator/clock", post=advance_clock, get=get_clock),
    by_method("/_emulator/keys", get=get_keys),
    by_method("/_emulator/keys/rotate", post=rotate_keys),
    by_method("/_emulator/deliver", post=deliver),
    by_method("/_emulator/requests", get=get_requests, delete=delete_requests),
    by_method("/_emulator/webhook-deliveries", get=get_deliveries),
    by_method("/_emulator/stats", get=get_stats, delete=reset_stats),
    by_method("/_emulator/state", get=get_state),
    by_method("/_emulator/reset", post=reset),
]
