"""Fuzz the API against its own OpenAPI schema with schemathesis.

The application is called through WSGI, inside each test's database transaction, with an
operator API key; the schema is the one it serves. Every operation gets its documented
examples plus a bounded number of generated cases. Checks: no 5xx, and every response matches
the schema (status code documented, body valid). The objects the examples name exist, with the
example ids, so the examples' writes (edit, disable, rotate, delete, offboard) reach the Webex
emulator over HTTP.
"""

import json
import uuid

import pytest
import schemathesis
from django.core import signals
from django.core.serializers.json import DjangoJSONEncoder
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from alerts.api.views import ALERT_EXAMPLE
from alerts.models import Alert
from alerts.services import alert_incident_raise
from audit.context import Actor
from datasources.api.views import DS_EXAMPLE
from datasources.models import DataSource
from datasources.tests.conftest import org, register  # noqa: F401 - fixtures
from operations.api.views import OP_EXAMPLE
from operations.models import BulkOperation
from tenants.api.views import APP_EXAMPLE, ORG_EXAMPLE
from tenants.models import CustomerOrg, ServiceApp
from tenants.tests.conftest import portal_app  # noqa: F401 - fixture

MAX_EXAMPLES = 5  # per operation, after the documented examples: about a minute in all


@pytest.fixture
def fuzz_key(api_client_for, settings, register, org):  # noqa: F811
    settings.PORTAL_API_RATE = "100000/min"
    ds = register()
    # The ids the schema's examples use, so explicit examples act on real objects.
    ServiceApp.objects.filter(pk=org.service_app_id).update(public_id=uuid.UUID(APP_EXAMPLE["id"]))
    # (and the example's Webex org id, so onboarding it again is the "already onboarded" case)
    CustomerOrg.objects.filter(pk=org.pk).update(
        public_id=uuid.UUID(ORG_EXAMPLE["id"]), webex_org_id=uuid.UUID(ORG_EXAMPLE["webex_org_id"])
    )
    DataSource.objects.filter(pk=ds.pk).update(public_id=uuid.UUID(DS_EXAMPLE["id"]))
    # A finished bulk operation with one failure, so watching and retrying it act on it.
    op = BulkOperation.objects.create(
        public_id=uuid.UUID(OP_EXAMPLE["id"]),
        kind="rotate",
        target_type="datasource",
        state="done",
        total=1,
        failed=1,
    )
    op.items.create(
        target_public_id=uuid.UUID(DS_EXAMPLE["id"]), state="failed", reason="Injected failure"
    )
    alert_incident_raise(org=org, summary="fuzzing", user=None, actor=Actor.system("fuzz"))
    Alert.objects.filter(kind="incident").update(public_id=uuid.UUID(ALERT_EXAMPLE["id"]))
    return api_client_for("operator").key


@pytest.fixture
def wsgi_app():
    """The project's WSGI application, serving inside this test's transaction: as Django's own
    test client does, stop each request from closing the (test-owned) database connection."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def _generated_schema() -> dict:
    """The schema /api/schema/ serves (a test below holds them equal), generated without a
    request: the pytest integration needs it at collection time, before any database."""
    from drf_spectacular.generators import SchemaGenerator

    raw = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(json.dumps(raw, cls=DjangoJSONEncoder))


SCHEMA = _generated_schema()
schema = schemathesis.openapi.from_dict(SCHEMA)
schema.app = get_wsgi_application()


@pytest.mark.django_db
def test_the_fuzzed_schema_is_the_served_one(api_client_for):
    served = api_client_for("auditor").get("/api/schema/", {"format": "json"})
    assert served.status_code == 200 and served.json() == SCHEMA


@pytest.mark.slow
@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_the_api_keeps_its_schema_under_fuzzing(case, fuzz_key, wsgi_app):
    case.call_and_validate(
        headers={"Authorization": f"Bearer {fuzz_key}"},
        checks=[not_a_server_error, response_schema_conformance],
    )
