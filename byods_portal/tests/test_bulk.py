"""The SQL builder the benchmarks use at a million data sources (`build_sql`) makes the same
rows as the ORM builder the query-count tests use (`build`): a benchmark of a different mix
would measure different pages."""

import datetime as dt

import pytest
from django.db import connection

from alerts.models import Alert
from byods_portal.tests.bulk import build, build_sql, insert_select
from datasources.models import DataSource
from tenants.models import CustomerOrg, OrgToken

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="build_sql speaks PostgreSQL"
)

# Random or per-row by nature; every other column must agree.
UNIQUE = {"id", "public_id", "webex_id", "webex_org_id", "nonce", "org_id", "service_app_id"}
UNIQUE |= {"dedup_key"}  # compared with the org pk taken out


def _row(obj, base: dt.datetime) -> tuple:
    """A row's columns, times as whole minutes from `base` (the builds ran moments apart)."""
    values = []
    for field in type(obj)._meta.concrete_fields:
        if field.attname in UNIQUE or field.attname in {"created_at", "updated_at"}:
            continue
        value = getattr(obj, field.attname)
        if isinstance(value, dt.datetime):
            value = round((value - base).total_seconds() / 60)
        values.append((field.attname, value))
    return tuple(values)


def _shape(app) -> dict:
    orgs = {o.pk: o for o in CustomerOrg.objects.filter(service_app=app)}
    base = min(o.created_at for o in orgs.values())

    def rows(model):
        found = model.objects.filter(org__in=orgs.values()).select_related("org")
        return sorted((o.org.name, _row(o, base)) for o in found)

    alerts = Alert.objects.filter(org__in=orgs.values()).select_related("org")
    return {
        "orgs": sorted(_row(o, base) for o in orgs.values()),
        "tokens": rows(OrgToken),
        "datasources": rows(DataSource),
        "alerts": sorted(
            (a.org.name, _row(a, base), a.dedup_key.replace(str(a.org_id), "<pk>")) for a in alerts
        ),
    }


@pytest.mark.django_db
def test_build_sql_makes_the_rows_build_makes():
    # An odd start and per_org: the numbering within a batch and across batches both count.
    orm, sql = build(orgs=45, per_org=4, start=7), build_sql(orgs=45, per_org=4, start=7)
    expected, got = _shape(orm), _shape(sql)
    assert len(got["datasources"]) == 180 and len(got["alerts"]) > 20
    for table in expected:
        assert got[table] == expected[table], table


@pytest.mark.django_db
def test_insert_select_names_a_column_it_cannot_fill():
    with pytest.raises(ValueError, match=r"DataSource\.org_id is NOT NULL without a default"):
        insert_select(DataSource, columns={}, source="generate_series(1, 1)")
    with pytest.raises(ValueError, match=r"DataSource\.webex_id is unique"):
        insert_select(DataSource, columns={"org_id": "1"}, source="generate_series(1, 1)")
    with pytest.raises(ValueError, match=r"no column\(s\) \['colour'\]"):
        insert_select(DataSource, columns={"colour": "'red'"}, source="generate_series(1, 1)")
