import pytest

from accounts.roles import Role
from accounts.services import staff_user_create
from datasources.tests.conftest import SCHEMA, org, register  # noqa: F401 - shared fixtures
from tenants.tests.conftest import SYSTEM, portal_app  # noqa: F401 - shared fixture


@pytest.fixture
def sources(register):  # noqa: F811
    """Four live data sources of one active org, registered at the emulator."""
    return [register(url=f"https://rx{i}.byods.example.com/feed") for i in range(4)]


@pytest.fixture
def operator_user(db):
    user, _ = staff_user_create(email="bulk-op@example.com", role=Role.OPERATOR, actor=SYSTEM)
    return user


def fail_puts_to(emulator, ds, status=500):
    """Every PUT to this data source at Webex fails (until the faults are cleared)."""
    emulator.set_faults(
        [
            {
                "method": "PUT",
                "pathRegex": f"^/v1/dataSources/{ds.webex_id}$",
                "kind": "status",
                "status": status,
                "message": "Injected failure",
                "times": None,
            }
        ]
    )
