"""What the emulator saw: the request log, webhook deliveries, in-flight stats, the whole state."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import ids, views
from ..api.common import emulator_of
from ..clock import iso
from ..errors import WebexError
from .knobs import clock_json, keys_json


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


def stats_json(request: Request) -> dict[str, Any]:
    stats = emulator_of(request).stats
    return {
        "inFlight": stats.in_flight,
        "peakInFlight": stats.peak_in_flight,
        "served": stats.served,
    }


async def get_stats(request: Request) -> Response:
    return JSONResponse(stats_json(request))


async def reset_stats(request: Request) -> Response:
    stats = emulator_of(request).stats
    stats.peak_in_flight = stats.in_flight
    stats.served = 0
    return JSONResponse(stats_json(request))


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
            "clock": clock_json(request),
            "config": store.config.to_json(),
            "latency": emulator.latency.to_json(),
            "faults": emulator.faults.to_json(),
            "stats": stats_json(request),
            "keys": keys_json(request),
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
