"""The soak's world: the Service App, orgs and data sources it rotates, the faults it injects,
the drain at the end, and the evidence it keeps."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from soak_config import COUNT, DOMAIN, FAULT_KINDS, FAULT_RATE, LIFETIME_MINUTES, ORGS, SCHEMA, log


def build_world(control) -> list:
    """One Service App, ORGS orgs that authorized it, COUNT data sources registered through
    the portal's own service (so each registration is audited like any other)."""
    from django.db import connection

    from audit.context import Actor, bound
    from datasources.services import datasource_register
    from tenants import services

    app = control.create_service_app("Soak", valid_domains=[DOMAIN], schema_ids=[SCHEMA])
    token = control.create_integration_token()
    actor = Actor.system("soak-setup")
    with bound(actor=actor):
        portal_app = services.serviceapp_create(
            name="Soak",
            client_id=app["clientId"],
            client_secret=app["clientSecret"],
            valid_domains=[DOMAIN],
            schema_ids=[SCHEMA],
            region="us",
            integration_token=token["accessToken"],
        )
        orgs = []
        for i in range(ORGS):
            webex_org = control.create_org(f"Soak Org {i:02d}")
            control.authorize(app["applicationId"], webex_org["id"])
            orgs.append(
                services.org_onboard(
                    app=portal_app,
                    webex_org_id=webex_org["id"],
                    name=f"Soak Org {i:02d}",
                    region="us",
                )
            )

    def register(i: int):
        try:
            with bound(actor=actor):
                return datasource_register(
                    org=orgs[i % ORGS],
                    schema_id=SCHEMA,
                    url=f"https://rx{i}.{DOMAIN}/feed",
                    audience="soak",
                    subject=f"s{i}",
                    token_lifetime_minutes=LIFETIME_MINUTES,
                )
        finally:
            connection.close()

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        sources = list(pool.map(register, range(COUNT)))
    log(f"registered {COUNT} data sources in {ORGS} orgs in {time.monotonic() - started:.0f} s")
    return sources


def fault_rules() -> list[dict]:
    """Rules that together fire on about FAULT_RATE of data source calls, split evenly: rules
    are tried in order, so each later one's rate is raised to keep the shares equal."""
    share = FAULT_RATE / len(FAULT_KINDS)
    rules, left = [], 1.0
    for kind in FAULT_KINDS:
        rules.append({"pathRegex": "^/v1/dataSources", "rate": min(1.0, share / left), **kind})
        left -= share
    return rules


def keep_evidence(logs: Path, state: dict, request_log: list[dict], bursts: list[dict]) -> None:
    """The emulator's state, its PUT log and the storms under var/soak/, to read after a
    failure: the emulator goes with the run, the scratch database stays until the next."""
    import json

    (logs / "emulator-state.json").write_text(json.dumps(state))
    (logs / "emulator-puts.json").write_text(json.dumps(request_log))
    (logs / "storms.json").write_text(json.dumps(bursts, default=str))


def drain(deadline_s: float = 180) -> None:
    """With beat stopped and faults off, finish what was in flight: a data source holding a
    pending nonce with no live claim (its batch died with a worker or the broker) is picked
    up by a sweep we send ourselves, as beat would have. Ends when nothing is claimed and
    nothing is pending (or at the deadline)."""
    from django.db import connection
    from django.db.models import Q
    from django.utils import timezone

    from datasources.models import DataSource
    from datasources.tasks import rotation_sweep

    deadline = time.monotonic() + deadline_s
    last_sweep = 0.0
    while time.monotonic() < deadline:
        now = timezone.now()
        live = DataSource.objects.filter(deleted_at__isnull=True)
        claimed = live.filter(claimed_until__gt=now).count()
        orphaned = (
            live.exclude(pending_nonce="")
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
            .count()
        )
        if claimed == 0 and orphaned == 0:
            break
        if claimed == 0 and time.monotonic() - last_sweep > 5:
            rotation_sweep.delay()
            last_sweep = time.monotonic()
        time.sleep(1)
    connection.close()
