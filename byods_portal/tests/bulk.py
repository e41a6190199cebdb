"""Many orgs, data sources and alerts quickly (bulk_create), for query-count tests and
bench/pages.py. A realistic mix: most healthy, some due, at risk, failing, disabled, paused."""

from __future__ import annotations

import datetime as dt
import uuid

from django.utils import timezone

from alerts.models import Alert, Kind
from datasources.models import DataSource
from tenants.models import CustomerOrg, OrgToken, ServiceApp


def build(*, orgs: int, per_org: int = 3, start: int = 0, app: ServiceApp | None = None):
    """Add `orgs` orgs (numbered from `start`) with `per_org` data sources each."""
    now = timezone.now()
    app = app or ServiceApp.objects.create(
        name="Bulk", client_id=f"C-bulk-{uuid.uuid4().hex[:8]}", client_secret="x"
    )
    # The first ten orgs already hold one of each status that matters (so small and large
    # pages run the same queries); then mostly active ones.
    statuses = ["active"] * 2 + ["reauthorization_required", "pending"] + ["active"] * 6
    statuses += ["active"] * 7 + ["deauthorized"] + ["active"] * 2
    new_orgs = CustomerOrg.objects.bulk_create(
        [
            CustomerOrg(
                service_app=app,
                webex_org_id=uuid.uuid4(),
                name=f"Org {i:06d}",
                status=statuses[i % len(statuses)],
            )
            for i in range(start, start + orgs)
        ],
        batch_size=2000,
    )
    OrgToken.objects.bulk_create(
        [
            OrgToken(
                org=org,
                access_expires_at=now + dt.timedelta(hours=1 + i % 300),
                consecutive_failures=1 if i % 97 == 0 else 0,
            )
            for i, org in enumerate(new_orgs)
        ],
        batch_size=2000,
    )
    rows = []
    for i, org in enumerate(new_orgs):
        for j in range(per_org):
            n = i * per_org + j
            expires = now + dt.timedelta(minutes=5 + (n * 53) % 1400)
            rows.append(
                DataSource(
                    org=org,
                    webex_id=uuid.uuid4().hex,
                    schema_id="5397013b-7920-4ffc-807c-e8a3e0a18f43",
                    url=f"https://rx.byods.example.com/{start + i}/{j}",
                    audience="a",
                    subject="s",
                    token_lifetime_minutes=1440,
                    status="disabled" if n % 50 == 0 else "active",
                    error_message="paused by test" if n % 50 == 0 else "",
                    nonce=uuid.uuid4().hex,
                    token_expires_at=expires,
                    next_rotation_at=now + dt.timedelta(minutes=(n * 37) % 700 - 30),
                    consecutive_failures=1 if n % 41 == 12 else 0,
                )
            )
    DataSource.objects.bulk_create(rows, batch_size=5000)
    # Open alerts: every org that must reauthorize, and drift at every other org (so that
    # the alerts list shows a full page at 100 orgs as at 10,000).
    alerts = [
        Alert(
            kind=Kind.ORG_REAUTHORIZATION,
            dedup_key=f"org_reauthorization:org:{org.pk}",
            org=org,
            summary=f"{org.name} must reauthorize the Service App",
        )
        for org in new_orgs
        if org.status == "reauthorization_required"
    ]
    alerts += [
        Alert(
            kind=Kind.DRIFT_FOUND,
            dedup_key=f"drift_found:org:{org.pk}",
            org=org,
            summary=f"1 open drift finding(s) for {org.name}",
        )
        for i, org in enumerate(new_orgs)
        if i % 2 == 0
    ]
    Alert.objects.bulk_create(alerts, batch_size=2000)
    return app
