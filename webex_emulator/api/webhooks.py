"""``/v1/webhooks``: create, list, read, update, delete. Delivery is ``..webhooks``' job."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import auth, ids, views
from ..errors import WebexError, missing_fields
from ..state import Webhook
from .common import emulator_of, page_window, paged, principal_of, read_json

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
