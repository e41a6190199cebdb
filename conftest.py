"""Fixtures shared by every app's tests: the fixed cast of personas.

Every view is tested with each of them: an operator, an onboarding (customer success) user, an
auditor, a signed-in user without a role, and an anonymous visitor.
"""

from dataclasses import dataclass

import pytest
from django.test import Client

from accounts.roles import Role
from accounts.services import staff_user_create
from accounts.tests.helpers import verified_login
from audit.context import Actor

PERSONAS = ("operator", "onboarding", "auditor", "norole", "anonymous")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """In the test database only, let Django's flush between transactional tests empty the
    audit table: PostgreSQL flushes with TRUNCATE and SQLite with DELETE, both of which the
    append-only triggers refuse. Row UPDATE/DELETE stay refused on PostgreSQL; the tests that
    prove the refusals switch the relevant trigger back on inside their own transaction."""
    from django.db import connection

    with django_db_blocker.unblock(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_no_truncate")
        else:
            cursor.execute("DROP TRIGGER IF EXISTS audit_event_no_delete")


@pytest.fixture(autouse=True)
def client_sleeps(monkeypatch):
    """The Webex client's waits (back-off, Retry-After) are recorded, not slept: a test that
    cares reads this list. Clocks, not sleeps."""
    from core import webex_adapter

    waits: list[float] = []
    monkeypatch.setattr(webex_adapter, "client_sleep", waits.append)
    return waits


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache: sign-in throttle counters never leak between tests."""
    from django.core.cache import cache

    cache.clear()


def _ensure_role_groups() -> None:
    """A transactional test's flush empties every table, the groups the data migration made
    included; recreate them (idempotently) so personas always get their roles."""
    import importlib

    from django.apps import apps

    for migration in ("0002_role_groups", "0004_verifier_role"):
        importlib.import_module(f"accounts.migrations.{migration}").create_groups(apps, None)


def _client_for(persona: str, django_user_model) -> Client:
    _ensure_role_groups()
    client = Client()
    if persona == "anonymous":
        return client
    if persona == "norole":
        user = django_user_model.objects.create_user(username="norole@example.com")
    else:
        user, _ = staff_user_create(
            email=f"{persona}@example.com", role=Role(persona), actor=Actor.system("test-setup")
        )
    # Signed in as after the password and, for roles that need one, the second factor.
    verified_login(client, user)
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
    control: object = None  # the emulator's control client, for tests that need both


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
        control=emulator,
    )


# --- The REST API: clients holding an API key of a role ---------------------------------------
@pytest.fixture
def api_client_for(db):
    """`api_client_for("auditor")` -> a DRF test client sending a fresh API key of that role
    (`client.key` holds the key, `client.api_key` its row). Rate limits are counted per key
    in the cache, which the tests keep in memory and empty before each test."""
    from rest_framework.test import APIClient

    from accounts.services import apikey_create

    _ensure_role_groups()

    def make(role: str, **kwargs) -> APIClient:
        api_key, key = apikey_create(
            name=f"{role} key", role=Role(role), actor=Actor.system("test-setup"), **kwargs
        )
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        client.key, client.api_key = key, api_key
        return client

    return make
