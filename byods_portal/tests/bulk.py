"""Many orgs, data sources and alerts quickly, for query-count tests and the benchmarks. A
realistic mix: most healthy, some due, at risk, failing, disabled, paused.

`build` makes the rows in Python (bulk_create); `build_sql` makes the same mix in a handful of
`INSERT ... SELECT ... FROM generate_series(...)` statements, for a million data sources in
seconds rather than minutes (a test checks that the two agree)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from django.db import connection, models
from django.utils import timezone

from alerts.models import Alert, Kind
from datasources.models import DataSource
from tenants.models import CustomerOrg, OrgToken, ServiceApp

# The first ten orgs already hold one of each status that matters (so small and large pages
# run the same queries); then mostly active ones. Org i has ORG_STATUSES[i % 20].
ORG_STATUSES = ["active"] * 2 + ["reauthorization_required", "pending"] + ["active"] * 6
ORG_STATUSES += ["active"] * 7 + ["deauthorized"] + ["active"] * 2


def build(*, orgs: int, per_org: int = 3, start: int = 0, app: ServiceApp | None = None):
    """Add `orgs` orgs (numbered from `start`) with `per_org` data sources each."""
    now = timezone.now()
    app = app or ServiceApp.objects.create(
        name="Bulk", client_id=f"C-bulk-{uuid.uuid4().hex[:8]}", client_secret="x"
    )
    statuses = ORG_STATUSES
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


def insert_select(
    model: type[models.Model], *, columns: dict[str, str], source: str, params: Sequence = ()
) -> int:
    """`INSERT INTO <model's table> (...) SELECT <columns> FROM <source>`: one statement, no
    Python per row. Returns the number of rows inserted.

    `columns` maps field attnames to SQL expressions over `source` (which takes `params`; the
    expressions take none). Every other column gets its field's default, the same on each row
    (a `uuid4` default becomes `gen_random_uuid()`, auto_now(_add) `now()`), or NULL when it is
    nullable without one; a column that can get neither, or a unique one not given, is an error
    naming the field. So a field added to the model later needs no change here unless it must.
    """
    fields = [
        f for f in model._meta.concrete_fields if not (f.primary_key and f.attname not in columns)
    ]
    unknown = set(columns) - {f.attname for f in fields}
    if unknown:
        raise ValueError(f"{model.__name__} has no column(s) {sorted(unknown)}")
    names, exprs, defaults = [], [], []
    for field in fields:
        if field.attname in columns:
            expr = columns[field.attname]
        elif field.default is uuid.uuid4:
            expr = "gen_random_uuid()"
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            expr = "now()"
        elif field.unique:
            raise ValueError(f"{model.__name__}.{field.attname} is unique: give it in `columns`")
        elif field.null and not field.has_default():
            continue
        else:
            value = field.get_default()
            if value is None and not field.null:
                raise ValueError(
                    f"{model.__name__}.{field.attname} is NOT NULL without a default: "
                    "give it in `columns`"
                )
            expr = "%s"
            defaults.append(field.get_db_prep_save(value, connection))
        names.append(connection.ops.quote_name(field.column))
        exprs.append(expr)
    table = connection.ops.quote_name(model._meta.db_table)
    sql = f"INSERT INTO {table} ({', '.join(names)}) SELECT {', '.join(exprs)} FROM {source}"  # noqa: S608 - names from model meta, values as parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, [*defaults, *params])
        return cursor.rowcount


def _minutes(expr: str) -> str:
    return f"now() + make_interval(mins => ({expr})::int)"


def build_sql(*, orgs: int, per_org: int = 3, start: int = 0, app: ServiceApp | None = None):
    """`build`'s mix in SQL (PostgreSQL): the same orgs, tokens, data sources and open alerts,
    row for row (`now()` for now; random ids and nonces differ).

    Five INSERT ... SELECT statements (`mod()`, not `%`: the statements take parameters)."""
    if connection.vendor != "postgresql":
        raise RuntimeError("build_sql speaks PostgreSQL (generate_series, gen_random_uuid)")
    app = app or ServiceApp.objects.create(
        name="Bulk", client_id=f"C-bulk-{uuid.uuid4().hex[:8]}", client_secret="x"
    )
    before = CustomerOrg.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    statuses = ", ".join(f"'{status}'" for status in ORG_STATUSES)  # constants, not input
    insert_select(
        CustomerOrg,
        columns={
            "service_app_id": str(int(app.pk)),
            "webex_org_id": "gen_random_uuid()",
            "name": "'Org ' || lpad(i::text, greatest(6, length(i::text)), '0')",
            "status": f"(ARRAY[{statuses}])[mod(i, {len(ORG_STATUSES)}) + 1]",
        },
        source="generate_series(%s, %s) AS i ORDER BY i",
        params=[start, start + orgs - 1],
    )
    # The new orgs in the order inserted, each with `build`'s numbers: k counts this batch
    # (tokens, data sources, drift), i = start + k names it (names, URLs).
    new = (
        "(SELECT id, name, status, row_number() OVER (ORDER BY id) - 1 AS k, "
        "%s - 1 + row_number() OVER (ORDER BY id) AS i "
        "FROM tenants_customerorg WHERE service_app_id = %s AND id > %s) AS o"
    )
    new_params = [start, app.pk, before]
    insert_select(
        OrgToken,
        columns={
            "org_id": "o.id",
            "access_expires_at": "now() + make_interval(hours => (1 + mod(o.k, 300))::int)",
            "consecutive_failures": "CASE WHEN mod(o.k, 97) = 0 THEN 1 ELSE 0 END",
        },
        source=f"{new} ORDER BY o.i",
        params=new_params,
    )
    n = f"(o.k * {int(per_org)} + j)"  # `build`'s n: the data source's number
    insert_select(
        DataSource,
        columns={
            "org_id": "o.id",
            "webex_id": "replace(gen_random_uuid()::text, '-', '')",
            "schema_id": "'5397013b-7920-4ffc-807c-e8a3e0a18f43'",
            "url": "'https://rx.byods.example.com/' || o.i || '/' || j",
            "audience": "'a'",
            "subject": "'s'",
            "token_lifetime_minutes": "1440",
            "status": f"CASE WHEN mod({n}, 50) = 0 THEN 'disabled' ELSE 'active' END",
            "error_message": f"CASE WHEN mod({n}, 50) = 0 THEN 'paused by test' ELSE '' END",
            "nonce": "replace(gen_random_uuid()::text, '-', '')",
            "token_expires_at": _minutes(f"5 + mod({n} * 53, 1400)"),
            "next_rotation_at": _minutes(f"mod({n} * 37, 700) - 30"),
            "consecutive_failures": f"CASE WHEN mod({n}, 41) = 12 THEN 1 ELSE 0 END",
        },
        source=f"{new} CROSS JOIN generate_series(0, %s) AS j ORDER BY o.i, j",
        params=[*new_params, per_org - 1],
    )
    # Open alerts as `build` opens them: every org that must reauthorize, drift at every other.
    reauthorize = Kind.ORG_REAUTHORIZATION.value
    insert_select(
        Alert,
        columns={
            "kind": f"'{reauthorize}'",
            "dedup_key": f"'{reauthorize}:org:' || o.id",
            "org_id": "o.id",
            "summary": "o.name || ' must reauthorize the Service App'",
        },
        source=f"{new} WHERE o.status = %s ORDER BY o.i",
        params=[*new_params, CustomerOrg.Status.REAUTHORIZATION_REQUIRED.value],
    )
    drift = Kind.DRIFT_FOUND.value
    insert_select(
        Alert,
        columns={
            "kind": f"'{drift}'",
            "dedup_key": f"'{drift}:org:' || o.id",
            "org_id": "o.id",
            "summary": "'1 open drift finding(s) for ' || o.name",
        },
        source=f"{new} WHERE mod(o.k, 2) = 0 ORDER BY o.i",
        params=new_params,
    )
    return app
