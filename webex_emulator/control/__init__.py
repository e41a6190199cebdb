"""The control surface under ``/_emulator`` (JSON in, JSON out).

A test tool's back door: it creates the world (Service Apps, orgs, integration tokens,
authorizations), bends it (faults, latency, clock, key rotation, config) and shows it (request log,
full state including secrets). Never expose it beyond the test or demo machine. Faults and latency
never apply here. Errors use the same Webex error body as ``/v1``. Every call is documented with
an example in ``docs/emulator.md``.

This module is the route table; the handlers live beside it: ``world`` (create, authorize,
reset), ``knobs`` (faults, latency, config, clock, keys), ``delivery`` (deliver a JWS),
``observation`` (request log, webhook deliveries, stats, state), and ``common`` (body fields).
"""

from __future__ import annotations

from ..api.common import by_method
from .delivery import deliver
from .knobs import (
    advance_clock,
    delete_faults,
    get_clock,
    get_config,
    get_faults,
    get_keys,
    get_latency,
    put_config,
    put_faults,
    put_latency,
    rotate_keys,
)
from .observation import (
    delete_requests,
    get_deliveries,
    get_requests,
    get_state,
    get_stats,
    reset_stats,
)
from .world import (
    authorize,
    create_integration_token,
    create_org,
    create_service_app,
    deauthorize,
    health,
    list_authorizations,
    list_orgs,
    list_service_apps,
    patch_service_app,
    reset,
)

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
