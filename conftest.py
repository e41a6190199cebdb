"""Fixtures shared by every app's tests: the fixed cast of personas.

Every view is tested with each of them: an operator, an onboarding (customer success) user, an
auditor, a signed-in user without a role, and an anonymous visitor.
"""

import pytest
from django.test import Client

from accounts.roles import Role
from accounts.services import staff_user_create

PERSONAS = ("operator", "onboarding", "auditor", "norole", "anonymous")


def _client_for(persona: str, django_user_model) -> Client:
    client = Client()
    if persona == "anonymous":
        return client
    if persona == "norole":
        user = django_user_model.objects.create_user(username="norole@example.com")
    else:
        user, _ = staff_user_create(email=f"{persona}@example.com", role=Role(persona))
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
