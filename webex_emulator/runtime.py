"""The emulator object shared by every route: options, store, keys, faults, webhooks, stats."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .clock import Clock
from .faults import FaultInjector, Latency
from .jws import KeyRing
from .state import Authorization, Org, ServiceApp, Store
from .webhooks import WebhookDispatcher

log = logging.getLogger("webex_emulator")

CONTEXT_KEY = "webex_emulator.context"


@dataclass
class Options:
    """Command line options (see ``python -m webex_emulator --help``)."""

    host: str = "127.0.0.1"
    port: int = 8900
    db: str = ":memory:"
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    seed_demo: bool = False
    public_url: str | None = None
    log_level: str = "info"


@dataclass
class RequestContext:
    """Per-request facts the routes learn and the request log records."""

    tracking_id: str
    org_id: str | None = None
    client_id: str | None = None
    nonce: str | None = None
    data_source_id: str | None = None
    fault: str | None = None


@dataclass
class Stats:
    """Concurrency gauge of the Webex routes (``GET /_emulator/stats``)."""

    in_flight: int = 0
    peak_in_flight: int = 0
    served: int = 0

    def enter(self) -> None:
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def leave(self) -> None:
        self.in_flight -= 1
        self.served += 1


class Emulator:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.clock = Clock()
        self.store = Store(options.db, self.clock)
        self.keys = KeyRing(self.store)
        self.faults = FaultInjector()
        self.latency = Latency(options.latency_ms, options.jitter_ms)
        self.webhooks = WebhookDispatcher(self.store)
        self.stats = Stats()

    async def reset(self, keep_keys: bool = True) -> None:
        """Back to an empty world, default config, real time, no faults, startup latency."""
        await self.webhooks.cancel_all()
        self.store.reset(keep_keys=keep_keys)
        self.keys.reload()
        self.faults.clear()
        self.latency = Latency(self.options.latency_ms, self.options.jitter_ms)
        self.stats = Stats()

    def authorize(self, app: ServiceApp, org: Org, authorizer_id: str) -> Authorization:
        """An org admin authorizes the app: snapshot its domains and schemas, fire webhooks."""
        authorization = self.store.authorize(app, org.id, authorizer_id)
        self.webhooks.fire_service_app_event("authorized", app, org, authorization)
        log.info(
            "service app authorized",
            extra={"fields": {"clientId": app.client_id, "orgId": org.id}},
        )
        return authorization

    def deauthorize(self, app: ServiceApp, org: Org) -> Authorization | None:
        """The org removes the app: its tokens are revoked and webhooks fire."""
        authorization = self.store.deauthorize(app.client_id, org.id)
        if authorization is not None:
            self.webhooks.fire_service_app_event("deauthorized", app, org, authorization)
            log.info(
                "service app deauthorized",
                extra={"fields": {"clientId": app.client_id, "orgId": org.id}},
            )
        return authorization
