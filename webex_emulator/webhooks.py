"""Delivery of ``serviceApp`` webhooks (``authorized`` / ``deauthorized``).

When an org authorizes or deauthorizes a Service App (``/_emulator/authorizations``), every
active webhook with ``resource: serviceApp`` and a matching ``event`` receives a POST, provided its
``filter`` is empty or matches (``id=<applicationId>`` in any base64 form, ``orgId=<org>``).

The envelope carries the authorizing org in *both* places public sources disagree on: the
top-level ``orgId`` (base64 Webex org id, as every Webex webhook envelope spells ids) and
``data.authorizerOrgId`` (plain UUID, with ``data.orgId`` the same). ``data.id`` is the Service
App's ``applicationId``. The envelope ``id`` is a unique *event* id, identical for every webhook
and every retry of the same event, so receivers can de-duplicate.

With a ``secret``, ``X-Spark-Signature`` is the hex HMAC-SHA1 of the exact body bytes sent.
Deliveries run as background tasks: a non-2xx answer or a connection error is retried
(``webhookMaxAttempts`` attempts, back-off ``webhookRetryBaseSeconds * 2**n``), and every attempt
is recorded in the ``webhook_deliveries`` table (``GET /_emulator/webhook-deliveries``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from typing import Any
from urllib.parse import parse_qsl

from . import ids
from .clock import iso
from .httpclient import DeliveryError, post
from .state import Authorization, Org, ServiceApp, Store, Webhook

log = logging.getLogger("webex_emulator.webhooks")


def signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha1).hexdigest()


def filter_matches(hook_filter: str | None, app: ServiceApp, org: Org) -> bool:
    if not hook_filter:
        return True
    for key, value in parse_qsl(hook_filter, keep_blank_values=True):
        if key == "id":
            if value not in (app.client_id,) and ids.parse_application_id(value) != app.client_id:
                return False
        elif key == "orgId":
            if ids.parse_org_id(value) != org.id:
                return False
        else:
            return False
    return True


def envelope(
    event_id: str,
    hook: Webhook,
    event: str,
    app: ServiceApp,
    org: Org,
    authorization: Authorization,
    now: float,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": app.application_id,
        "clientId": app.client_id,
        "name": app.name,
        "orgId": org.id,
        "orgName": org.name,
        "authorizerOrgId": org.id,
        "authorizerId": ids.encode(ids.PEOPLE, authorization.authorizer_id),
        "authorizationDate": iso(authorization.authorization_date),
        "validDomains": list(authorization.valid_domains),
        "dataSourceSchemaIds": list(authorization.schema_ids),
    }
    if event == "deauthorized" and authorization.deauthorized_at is not None:
        data["deauthorizationDate"] = iso(authorization.deauthorized_at)
    body: dict[str, Any] = {
        "id": event_id,
        "name": hook.name,
        "targetUrl": hook.target_url,
        "resource": hook.resource,
        "event": event,
    }
    if hook.filter:
        body["filter"] = hook.filter
    body.update(
        {
            "orgId": org.webex_id,
            "createdBy": hook.created_by,
            "appId": hook.app_id,
            "ownedBy": hook.owned_by or "creator",
            "status": hook.status,
            "actorId": ids.encode(ids.PEOPLE, authorization.authorizer_id),
            "created": iso(now),
            "data": data,
        }
    )
    return body


class WebhookDispatcher:
    """Creates delivery records and runs them as background tasks."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.tasks: set[asyncio.Task[None]] = set()

    def fire_service_app_event(
        self, event: str, app: ServiceApp, org: Org, authorization: Authorization
    ) -> tuple[str, int]:
        """Queue the event for every matching webhook. Returns the event id and the count."""
        event_id = ids.new_uuid()
        now = self.store.now()
        count = 0
        for hook in self.store.webhooks_for_event("serviceApp", event):
            if not filter_matches(hook.filter, app, org):
                continue
            body = json.dumps(
                envelope(event_id, hook, event, app, org, authorization, now)
            ).encode()
            delivery_id = self.store.insert_delivery(
                event_id, hook, event, body.decode(), bool(hook.secret)
            )
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "webex-emulator-webhooks/1",
            }
            if hook.secret:
                headers["X-Spark-Signature"] = signature(hook.secret, body)
            self._spawn(self._deliver(delivery_id, hook.id, hook.target_url, body, headers))
            count += 1
        log.info(
            "webhook event queued",
            extra={
                "fields": {
                    "event": event,
                    "eventId": event_id,
                    "orgId": org.id,
                    "deliveries": count,
                }
            },
        )
        return event_id, count

    def _spawn(self, coro: Any) -> None:
        try:
            task = asyncio.get_running_loop().create_task(coro)
        except RuntimeError:  # no loop (e.g. seeding before the server starts): nothing to run
            coro.close()
            return
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _deliver(
        self, delivery_id: int, webhook_id: str, url: str, body: bytes, headers: dict[str, str]
    ) -> None:
        config = self.store.config
        attempts = max(1, config.webhook_max_attempts)
        for attempt in range(1, attempts + 1):
            status: int | None = None
            error: str | None = None
            try:
                status = await post(url, body, headers, config.webhook_timeout_seconds)
            except DeliveryError as exc:
                error = str(exc)
            ok = status is not None and 200 <= status < 300
            final = ok or attempt == attempts
            state = "delivered" if ok else ("failed" if final else "retrying")
            self.store.record_delivery_attempt(delivery_id, state, status, error)
            log.info(
                "webhook delivery attempt",
                extra={
                    "fields": {
                        "deliveryId": delivery_id,
                        "webhookId": webhook_id,
                        "attempt": attempt,
                        "status": status,
                        "error": error,
                        "state": state,
                    }
                },
            )
            if final:
                return
            await asyncio.sleep(config.webhook_retry_base_seconds * 2 ** (attempt - 1))

    async def cancel_all(self) -> None:
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
