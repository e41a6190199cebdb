import pytest

from tenants import services as tenant_services
from tenants.tests.conftest import SYSTEM, portal_app  # noqa: F401 - shared fixture

SCHEMA = "5397013b-7920-4ffc-807c-e8a3e0a18f43"


@pytest.fixture
def org(portal_app, webex_world):  # noqa: F811
    return tenant_services.org_onboard(
        app=portal_app,
        webex_org_id=webex_world.org_id,
        name="Globex Retail",
        region="us",
        actor=SYSTEM,
    )


@pytest.fixture
def register(org):
    from datasources.services import datasource_register

    def make(**overrides):
        fields = dict(
            org=org,
            schema_id=SCHEMA,
            url="https://rx.byods.example.com/feed",
            audience="byods-rx",
            subject="globex-voice",
            token_lifetime_minutes=60,
            actor=SYSTEM,
        )
        return datasource_register(**(fields | overrides))

    return make


@pytest.fixture(scope="session", autouse=True)
def _stop_rotation_threads(django_db_setup):
    """Rotation threads keep their database connections between batches; close them before
    the test database is dropped."""
    yield
    from datasources.tasks import stop_rotation_threads

    stop_rotation_threads()
