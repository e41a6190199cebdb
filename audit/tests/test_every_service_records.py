"""Every service that changes state writes an audit event.

The test discovers every public function in every app's `services` module (or package) and
fails when one is neither exercised here nor explicitly exempt, so a new service cannot ship
without showing the event it records.
"""

import importlib
import inspect
import pkgutil

import pytest
from django.db import transaction

from accounts.roles import Role
from audit.context import Actor
from audit.models import AuditEvent
from audit.vocabulary import Action

APPS = ("accounts", "tenants", "datasources", "audit")
ACTOR = Actor.system("test")

# Functions in services modules that do not change state by themselves.
EXEMPT = {
    "accounts.services.generate_password": "returns a random string",
    "audit.services.audit_record": "the recorder itself",
    "audit.services.audit_record_failure": "the recorder itself",
}


def _staff_user_create():
    from accounts.services import staff_user_create

    staff_user_create(email="new@example.com", role=Role.AUDITOR, actor=ACTOR)


# service -> (how to call it with valid input, the action it must record)
CASES = {
    "accounts.services.staff_user_create": (_staff_user_create, Action.STAFF_CREATED),
}


def discover_services() -> set[str]:
    found = set()
    for app in APPS:
        try:
            module = importlib.import_module(f"{app}.services")
        except ModuleNotFoundError:
            continue
        modules = [module]
        if hasattr(module, "__path__"):  # a services/ package
            modules += [
                importlib.import_module(f"{module.__name__}.{info.name}")
                for info in pkgutil.iter_modules(module.__path__)
            ]
        for mod in modules:
            for name, obj in inspect.getmembers(mod, inspect.isfunction):
                if not name.startswith("_") and obj.__module__ == mod.__name__:
                    found.add(f"{mod.__name__}.{name}")
    return found


def test_every_service_is_covered_or_exempt():
    missing = discover_services() - set(CASES) - set(EXEMPT)
    assert not missing, f"services without an audit test case: {sorted(missing)}"


@pytest.mark.django_db
@pytest.mark.parametrize("service", sorted(CASES))
def test_the_service_records_its_event(service):
    call, action = CASES[service]
    before = AuditEvent.objects.filter(action=action).count()
    with transaction.atomic():
        call()
    assert AuditEvent.objects.filter(action=action).count() == before + 1
