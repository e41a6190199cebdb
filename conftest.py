"""Fixtures shared by every app's tests: the fixed cast of personas.

Every view is tested with each of them: an operator, an onboarding (customer success) user, an
auditor, a signed-in user without a role, and an anonymous visitor.
"""

from dataclasses import dataclass

import pytest
from django.db.backends.signals import connection_created
from django.test import Client

from accounts.roles import Role
from accounts.services import staff_user_create
from audit.context import Actor

PERSONAS = ("operator", "onboarding", "auditor", "norole", "anonymous")


def _allow_audit_truncate(sender, connection, **kwargs):
    """Transactional tests flush tables with TRUNCATE, which the audit trigger refuses unless
    the session says it is the test suite (see audit migration 0002). Never set in production."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET byods.audit_truncate_allowed = 'on'")


connection_created.connect(_allow_audit_truncate, dispatch_uid="test-audit-truncate")


def _client_for(persona: str, django_user_model) -> Client:
    client = Client()
    if persona == "anonymous":
        return client
    if persona == "norole":
        user = django_user_model.objects.create_user(username="norole@example.com")
    else:
        user, _ = staff_user_create(
            email=f"{persona}@example.com", role=Role(persona), actor=Actor.system("test-setup")
        )
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def client_for(db, django_user_model):
    """`client_for("auditor")` -> a test client signed in as that persona."""
    return lambda persona: _client_for(persona, django_user_model)


@pytest.fixture
def operator_client(client_for):
    return client_for("operator")


@pytest.fixture
def onboarding_client(client_for):
    return client_for("onboarding")


@pytest.fixture
def auditor_client(client_for):
    return client_for("auditor")


# --- The Webex emulator, over real HTTP ----------------------------------------------------
ALL_SCHEMAS = (
    "1b2b7077-dbcd-4732-b2f9-296f9168168a",
    "523e1b7f-4693-47bc-b84e-a7b7a505fb0b",
    "5397013b-7920-4ffc-807c-e8a3e0a18f43",
    "a38a10b7-43e4-4676-a076-a7d6dce9387d",
)


@pytest.fixture(scope="session")
def emulator_server():
    """One emulator subprocess on a free loopback port for the whole test session."""
    from webex_emulator.testing import EmulatorProcess

    with EmulatorProcess() as server:
        yield server


@pytest.fixture
def emulator(emulator_server):
    """The emulator's control client, on a freshly reset world (faults and latency cleared)."""
    control = emulator_server.control
    control.reset()
    control.clear_faults()
    control.set_latency(0)
    return control


@dataclass(frozen=True)
class WebexWorld:
    """A Service App authorized by one org, and the partner's integration token."""

    api_base: str
    idbroker_base: str
    application_id: str
    client_id: str
    client_secret: str
    org_id: str
    org_webex_id: str
    org_name: str
    integration_token: str


@pytest.fixture
def webex_world(emulator, emulator_server):
    app = emulator.create_service_app(
        "Acme Analytics", valid_domains=["byods.example.com"], schema_ids=ALL_SCHEMAS
    )
    org = emulator.create_org("Globex Retail")
    emulator.authorize(app["applicationId"], org["id"])
    token = emulator.create_integration_token(scopes=["spark:applications_token"])
    return WebexWorld(
        api_base=emulator_server.api_base,
        idbroker_base=f"{emulator_server.base_url}/idb",
        application_id=app["applicationId"],
        client_id=app["clientId"],
        client_secret=app["clientSecret"],
        org_id=org["id"],
        org_webex_id=org["webexId"],
        org_name=org["name"],
        integration_token=token["accessToken"],
    )
