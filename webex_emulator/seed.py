"""The demo world of ``--seed-demo`` (and ``POST /_emulator/reset {"seedDemo": true}``).

One Service App, "Acme Contact Center Analytics", approved for ``byods.example.com`` and all four
published schemas; three customer orgs of which the first two have authorized it; one long-lived
partner integration token with ``spark:applications_token``. Nothing is printed: the portal reads
the credentials from ``GET /_emulator/state``.
"""

from __future__ import annotations

import logging

from . import ids, schemas
from .auth import SCOPE_APPLICATIONS, SCOPE_DATASOURCE_READ, SCOPE_DATASOURCE_WRITE
from .runtime import Emulator
from .views import default_authorizer_id

log = logging.getLogger("webex_emulator.seed")

DEMO_APP_NAME = "Acme Contact Center Analytics"
DEMO_DOMAINS = ["byods.example.com"]
DEMO_ORGS = [("Globex Retail", "us"), ("Initech Insurance", "us"), ("Umbrella Health", "eu")]
DEMO_AUTHORIZED = 2
DEMO_TOKEN_LIFETIME_SECONDS = 10 * 365 * 24 * 3600
SERVICE_APP_SCOPES = [SCOPE_DATASOURCE_READ, SCOPE_DATASOURCE_WRITE]


def seed_demo(emulator: Emulator) -> None:
    store = emulator.store
    app = store.create_service_app(
        DEMO_APP_NAME, DEMO_DOMAINS, schemas.schema_ids(), SERVICE_APP_SCOPES
    )
    orgs = [store.create_org(name, region) for name, region in DEMO_ORGS]
    for org in orgs[:DEMO_AUTHORIZED]:
        emulator.authorize(app, org, default_authorizer_id(org.id))
    partner_org = ids.stable_uuid("partner-org")
    store.issue_integration_token(
        [SCOPE_APPLICATIONS],
        DEMO_TOKEN_LIFETIME_SECONDS,
        ids.stable_uuid("partner-developer"),
        partner_org,
    )
    log.info(
        "seeded demo world",
        extra={"fields": {"app": DEMO_APP_NAME, "orgs": len(orgs), "authorized": DEMO_AUTHORIZED}},
    )
