"""Fuzz the API against its own OpenAPI schema with schemathesis, with every check it has.

The application is called through WSGI, inside each test's database transaction, with an
operator API key; the schema is the one it serves. Each operation gets its documented examples,
the coverage phase (each field's edges and types, valid and invalid) and a bounded number of
generated cases, positive and negative; then the stateful phase follows the schema's links from
each create to what can be done with what it created. The checks are all of schemathesis's: no
5xx; status codes, content types, headers and bodies as documented; schema-valid input accepted
and schema-invalid input refused; undeclared methods answer 405; authentication enforced; what
was created can be read, and what was deleted is gone.

What a schema cannot say is taken from the world for the cases meant to be valid (`fit`):
which ids exist, which schemas and domains the org authorized (and so which URLs Webex takes),
the name an operator types to confirm an offboarding, an org that authorized the app and is not
onboarded yet, the count a bulk preview gives, and that `until` comes after `since`. Invalid
(negative) cases go as generated. The objects the examples name exist, with the example ids, so
the writes reach the Webex emulator over HTTP; a Webex refusal would be a 502, which fails.
"""

import datetime as dt
import itertools
import json
import uuid
from dataclasses import dataclass

import pytest
import schemathesis
from django.core import signals
from django.core.serializers.json import DjangoJSONEncoder
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode

from alerts.api.views import ALERT_EXAMPLE
from alerts.models import Alert
from alerts.services import alert_incident_raise
from audit.context import Actor
from datasources.api.views import DS_EXAMPLE
from datasources.models import DataSource
from datasources.tests.conftest import SCHEMA, org, register  # noqa: F401 - fixtures
from operations import services as bulk_services
from operations.api.views import OP_EXAMPLE
from operations.models import BulkOperation
from operations.selectors import Selection
from tenants.api.views import APP_EXAMPLE, ORG_EXAMPLE
from tenants.models import CustomerOrg, ServiceApp
from tenants.tests.conftest import portal_app  # noqa: F401 - fixture

MAX_EXAMPLES = 5  # generated cases per operation, after the examples and the coverage phase
SCENARIOS, STEPS = 80, 8  # stateful: scenarios, and calls in each
HYPOTHESIS = {"deadline": None, "suppress_health_check": list(HealthCheck), "derandomize": True}


@dataclass
class World:
    key: str
    webex: object  # conftest's WebexWorld, with the emulator's control client
    counter: itertools.count


@pytest.fixture
def world(api_client_for, settings, register, org, webex_world):  # noqa: F811
    settings.PORTAL_API_RATE = "1000000/min"
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
    return World(api_client_for("operator").key, webex_world, itertools.count())


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


SCHEMA_DOC = _generated_schema()
schema = schemathesis.openapi.from_dict(SCHEMA_DOC)
schema.app = get_wsgi_application()
# The stateful phase follows the schema's own links only (create -> what it created), so each
# scenario acts on what it made and not on the world's objects, which scenarios share.
schema.config.phases.stateful.inference.algorithms = []


# --- What the schema cannot say, from the world ---------------------------------------------
def _uuid(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _org_of(path_parameters) -> CustomerOrg | None:
    public_id = _uuid((path_parameters or {}).get("id"))
    return CustomerOrg.objects.filter(public_id=public_id).first() if public_id else None


def _instant(value):
    try:
        return dt.datetime.fromisoformat(str(value).upper().replace("Z", "+00:00"))
    except ValueError:
        return None


def _a_new_authorized_org(world: World, n: int) -> str:
    """An org at Webex that authorized the app and is not onboarded yet: its id."""
    control = world.webex.control
    created = control.create_org(f"Fuzz Org {n}")
    control.authorize(world.webex.application_id, created["id"])
    return created["id"]


def _bulk_fit(body: dict, *, start: bool) -> None:
    kind = body.get("kind")
    if kind == "offboard":
        body["target_type"] = "org"
    target = body.get("target_type")
    if not body.get("all"):
        body["ids"] = [ORG_EXAMPLE["id"] if target == "org" else DS_EXAMPLE["id"]]
    body.pop("filters", None)  # the lists' filters differ by target type
    if not start:
        return
    if kind == "disable":
        body.setdefault("message", "Fuzzing: maintenance")
    if kind == "offboard":
        body.setdefault("mode", "disable")
        body.setdefault("reason", "Fuzzing the API")
        ids = () if body.get("all") else tuple(uuid.UUID(i) for i in body["ids"])
        selection = Selection(target_type="org", public_ids=ids, all_matching=bool(body.get("all")))
        preview = bulk_services.bulk_preview(kind="offboard", selection=selection)
        body["confirm_count"] = preview.will_change


def fit(case, world: World) -> None:
    """Give a case meant to be valid the world's references (see the module's docstring)."""
    if case.meta is None or case.meta.generation.mode != GenerationMode.POSITIVE:
        return
    method, path = case.method.upper(), case.path
    body = case.body if isinstance(case.body, dict) else None
    n = next(world.counter)
    if body is not None and path in ("/api/v1/datasources/", "/api/v1/datasources/{id}/"):
        if method == "POST":
            if not CustomerOrg.objects.filter(public_id=_uuid(body.get("org")), status="active"):
                body["org"] = ORG_EXAMPLE["id"]  # (a link from an onboarding names its org)
            body["schema_id"] = SCHEMA
        else:
            body.pop("schema_id", None)  # it cannot change
        if method != "PATCH" or "url" in body:
            body["url"] = f"https://fuzz-{n}.byods.example.com/feed"
    elif body is not None and (method, path) == ("POST", "/api/v1/orgs/"):
        body["service_app"] = APP_EXAMPLE["id"]
        body["webex_org_id"] = _a_new_authorized_org(world, n)
        body["owner"] = ""
    elif body is not None and path == "/api/v1/orgs/{id}/offboard/":
        target = _org_of(case.path_parameters)
        if target is not None:
            body["confirm_name"] = target.name
    elif body is not None and path == "/api/v1/alerts/incidents/":
        if not CustomerOrg.objects.filter(public_id=_uuid(body.get("org"))):
            body["org"] = ORG_EXAMPLE["id"]
    elif body is not None and path in (
        "/api/v1/alerts/{id}/snooze/",
        "/api/v1/alerts/{id}/silence/",
    ):
        # The end of a snooze or silence lies ahead (a snooze always has one).
        until = _instant(body.get("until"))
        if until is None and path.endswith("/snooze/"):
            until = dt.datetime.now(dt.UTC)
        if until is not None and until.tzinfo is None:
            until = until.replace(tzinfo=dt.UTC)
        if until is not None and until <= dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1):
            body["until"] = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1 + n % 24)).isoformat()
    elif body is not None and path == "/api/v1/bulk-operations/preview/":
        _bulk_fit(body, start=False)
    elif body is not None and (method, path) == ("POST", "/api/v1/bulk-operations/"):
        _bulk_fit(body, start=True)
    elif path.startswith("/api/v1/audit/events/") and case.query:
        since, until = _instant(case.query.get("since")), _instant(case.query.get("until"))
        if since and until and since >= until:
            case.query.pop("until")


def _headers(world: World) -> dict:
    return {"Authorization": f"Bearer {world.key}"}


@pytest.mark.django_db
def test_the_fuzzed_schema_is_the_served_one(api_client_for):
    served = api_client_for("auditor").get("/api/schema/", {"format": "json"})
    assert served.status_code == 200 and served.json() == SCHEMA_DOC


def test_every_create_links_to_what_it_created():
    paths = SCHEMA_DOC["paths"]
    for path, operation in (
        ("/api/v1/datasources/", "datasources_destroy"),
        ("/api/v1/orgs/", "orgs_offboard_create"),
        ("/api/v1/alerts/incidents/", "alerts_resolve_create"),
    ):
        links = paths[path]["post"]["responses"]["201"]["links"]
        assert links[operation]["parameters"] == {"id": "$response.body#/id"}, path
    assert "links" in paths["/api/v1/bulk-operations/"]["post"]["responses"]["202"]


@pytest.mark.slow
@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, **HYPOTHESIS)
def test_the_api_keeps_its_schema_under_fuzzing(case, world, wsgi_app):
    fit(case, world)
    case.call_and_validate(headers=_headers(world))


@pytest.mark.slow
@pytest.mark.django_db
def test_the_api_keeps_its_schema_statefully(world, wsgi_app):
    class Workflow(schema.as_state_machine()):
        """Each scenario starts from the same database: what one creates, the next does not
        see (Hypothesis replays scenarios and needs them to behave the same each time)."""

        def setup(self):
            self.savepoint = transaction.savepoint()

        def teardown(self):
            transaction.savepoint_rollback(self.savepoint)
            super().teardown()

        def before_call(self, case):
            fit(case, world)

        def get_call_kwargs(self, case):
            return {"headers": _headers(world)}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            # As `call_and_validate(headers=...)` does: the key is the caller's, not generated.
            case.validate_response(
                response,
                additional_checks=additional_checks,
                headers=_headers(world),
                transport_kwargs=kwargs or None,
                recorder=self.recorder,
            )

    Workflow.run(settings=settings(max_examples=SCENARIOS, stateful_step_count=STEPS, **HYPOTHESIS))
