"""Staff management by operators: invitations, role changes, (de/re)activation, unlock, second
factor reset and session revocation; each audited with its reason, each refused to the others
and, where it would lock everyone out, to operators too."""

import datetime as dt
import re

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.roles import Role, user_role
from audit.context import Actor
from audit.models import AuditEvent
from audit.vocabulary import Action

SETUP = Actor.system("test-setup")
pytestmark = pytest.mark.django_db


@pytest.fixture
def colleague(db):
    import importlib

    from django.apps import apps

    importlib.import_module("accounts.migrations.0002_role_groups").create_groups(apps, None)
    user, _ = services.staff_user_create(
        email="colleague@example.com",
        role=Role.ONBOARDING,
        password="a-long-passphrase-1",
        actor=SETUP,
    )
    return user


def url(name, user):
    return reverse(f"accounts:{name}", args=[user.staff_profile.public_id])


def test_an_operator_changes_a_role_with_a_reason(operator_client, colleague):
    confirm = operator_client.get(url("staff_role", colleague))
    assert confirm.status_code == 200
    missing = operator_client.post(url("staff_role", colleague), {"role": "auditor"})
    assert missing.status_code == 200 and user_role(colleague) == Role.ONBOARDING
    response = operator_client.post(
        url("staff_role", colleague), {"role": "auditor", "reason": "moved to compliance"}
    )
    assert response.status_code == 302
    assert user_role(colleague) == Role.AUDITOR
    event = AuditEvent.objects.get(action=Action.STAFF_ROLE_CHANGED)
    assert event.reason == "moved to compliance"
    assert event.changes["role"] == {"before": "onboarding", "after": "auditor"}
    assert event.actor == "operator@example.com"


def test_an_operator_cannot_change_their_own_role(operator_client):
    me = operator_client.user
    response = operator_client.post(
        url("staff_role", me), {"role": "auditor", "reason": "trying to step down"}
    )
    assert response.status_code == 200
    assert "cannot change the role of yourself" in response.content.decode()
    assert user_role(me) == Role.OPERATOR
    assert not AuditEvent.objects.filter(action=Action.STAFF_ROLE_CHANGED).exists()


def test_the_last_active_operator_cannot_be_removed(operator_client, colleague):
    other, _ = services.staff_user_create(email="op2@example.com", role=Role.OPERATOR, actor=SETUP)
    me = operator_client.user
    # me deactivates op2: fine, I remain
    services.staff_deactivate(user=other, reason="left the company", by=me)
    # then op2 (no longer active) ... and an API key acting on me: I am the last operator
    with pytest.raises(services.StaffRefused, match="last active operator"):
        services.staff_role_change(user=me, role=Role.AUDITOR, reason="by a script", by=None)
    with pytest.raises(services.StaffRefused, match="last active operator"):
        services.staff_deactivate(user=me, reason="by a script", by=None)
    assert me.is_active and user_role(me) == Role.OPERATOR


def test_the_api_refuses_the_last_operator_with_409(operator_client, api_client_for):
    me = operator_client.user
    keyed = api_client_for("operator")
    response = keyed.post(
        f"/api/v1/staff/{me.staff_profile.public_id}/deactivate/",
        {"reason": "scripted clean-up"},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "last_operator"


def test_deactivate_ends_sessions_and_reactivate_restores(operator_client, colleague):
    theirs = Client()
    theirs.force_login(colleague)
    assert theirs.get(reverse("dashboard")).status_code == 200
    page = operator_client.get(url("staff_deactivate", colleague))
    assert page.status_code == 200 and "every session of theirs ends now" in page.content.decode()
    operator_client.post(url("staff_deactivate", colleague), {"reason": "left the company"})
    colleague.refresh_from_db()
    assert not colleague.is_active
    assert theirs.get(reverse("dashboard")).status_code == 302  # signed out
    assert Client().login(username=colleague.username, password="a-long-passphrase-1") is False
    listing = operator_client.get(reverse("accounts:staff_list")).content.decode()
    assert "no (deactivated)" in listing
    operator_client.post(url("staff_reactivate", colleague), {"reason": "rehired"})
    colleague.refresh_from_db()
    assert colleague.is_active
    actions = list(
        AuditEvent.objects.filter(target_id=colleague.username)
        .order_by("id")
        .values_list("action", "reason")
    )
    assert (Action.STAFF_DEACTIVATED, "left the company") in actions
    assert (Action.STAFF_REACTIVATED, "rehired") in actions


def test_an_operator_cannot_deactivate_themselves(operator_client):
    me = operator_client.user
    response = operator_client.post(url("staff_deactivate", me), {"reason": "testing myself"})
    assert "cannot deactivate yourself" in response.content.decode()
    me.refresh_from_db()
    assert me.is_active


def test_unlock_lifts_a_password_lock(operator_client, colleague, settings):
    settings.LOGIN_THROTTLE_FAILURES = 2
    client = Client()
    for _ in range(2):
        client.post(reverse("login"), {"username": colleague.username, "password": "wrong"})
    listing = operator_client.get(reverse("accounts:staff_list")).content.decode()
    assert "Locked until" in listing
    operator_client.post(url("staff_unlock", colleague), {"reason": "called them back"})
    assert (
        "Locked until" not in operator_client.get(reverse("accounts:staff_list")).content.decode()
    )
    ok = client.post(
        reverse("login"), {"username": colleague.username, "password": "a-long-passphrase-1"}
    )
    assert ok.status_code == 302
    event = AuditEvent.objects.get(action=Action.STAFF_UNLOCKED)
    assert event.reason == "called them back"


def test_revoke_sessions_signs_someone_out_everywhere(operator_client, colleague):
    tabs = [Client(), Client()]
    for tab in tabs:
        tab.force_login(colleague)
    page = operator_client.get(url("staff_revoke_sessions", colleague))
    assert "signed out now" in page.content.decode()
    operator_client.post(url("staff_revoke_sessions", colleague), {"reason": "laptop stolen"})
    for tab in tabs:
        assert tab.get(reverse("dashboard")).status_code == 302
    assert operator_client.get(reverse("dashboard")).status_code == 200  # others untouched
    event = AuditEvent.objects.get(action=Action.STAFF_SESSIONS_REVOKED)
    assert event.reason == "laptop stolen" and "2 sessions" in event.summary


@pytest.mark.parametrize("persona", ["onboarding", "auditor", "norole"])
def test_only_operators_manage_staff(client_for, colleague, persona):
    client = client_for(persona)
    before = AuditEvent.objects.count()
    for name in (
        "staff_role",
        "staff_deactivate",
        "staff_reactivate",
        "staff_unlock",
        "staff_reset_second_factor",
        "staff_revoke_sessions",
    ):
        assert client.get(url(name, colleague)).status_code == 403
        data = {"role": "operator", "reason": "sneaky promotion"}
        assert client.post(url(name, colleague), data).status_code == 403
    invite = {"email": "x@example.com", "role": "operator", "reason": "sneaky invite"}
    assert client.post(reverse("accounts:staff_invite"), invite).status_code == 403
    assert AuditEvent.objects.count() == before
    assert user_role(colleague) == Role.ONBOARDING


@pytest.mark.parametrize("role", ["onboarding", "auditor", "verifier"])
def test_only_operator_keys_manage_staff_over_the_api(api_client_for, colleague, role):
    client = api_client_for(role)
    base = f"/api/v1/staff/{colleague.staff_profile.public_id}"
    for action in (
        "role",
        "deactivate",
        "reactivate",
        "unlock",
        "reset-second-factor",
        "revoke-sessions",
    ):
        data = {"role": "operator", "reason": "sneaky promotion"}
        assert client.post(f"{base}/{action}/", data, format="json").status_code == 403
    assert user_role(colleague) == Role.ONBOARDING


def test_the_api_changes_a_role(api_client_for, colleague):
    client = api_client_for("operator")
    response = client.post(
        f"/api/v1/staff/{colleague.staff_profile.public_id}/role/",
        {"role": "auditor", "reason": "moved to compliance"},
        format="json",
    )
    assert response.status_code == 200 and response.json()["role"] == "auditor"
    assert AuditEvent.objects.get(action=Action.STAFF_ROLE_CHANGED).actor.startswith("api:")
    empty = client.post(
        f"/api/v1/staff/{colleague.staff_profile.public_id}/role/", {}, format="json"
    )
    assert empty.status_code == 400 and "reason" in empty.json()["error"]["fields"]


# --- invitations ---------------------------------------------------------------------------
def invite(operator_client, email="new@example.com", role="operator"):
    response = operator_client.post(
        reverse("accounts:staff_invite"), {"email": email, "role": role, "reason": "new hire"}
    )
    assert response.status_code == 302, response.content
    message = [m for m in mail.outbox if email in m.to][-1]
    return re.search(r"https?://\S+/staff/invite/\S+/", message.body)[0]


def test_an_invitation_signs_up_once_and_asks_for_a_second_factor(operator_client):
    link = invite(operator_client)
    assert AuditEvent.objects.get(action=Action.STAFF_INVITED).reason == "new hire"
    client = Client()
    page = client.get(link)
    assert page.status_code == 200 and "new@example.com" in page.content.decode()
    mismatch = client.post(link, {"password": "a-long-passphrase-1", "password_again": "x"})
    assert "The two passwords differ" in mismatch.content.decode()
    done = client.post(
        link, {"password": "a-long-passphrase-1", "password_again": "a-long-passphrase-1"}
    )
    assert done.status_code == 302 and done.url == reverse("second_factor_enrol")
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username="new@example.com")
    assert user_role(user) == Role.OPERATOR
    assert user.staff_profile.invited_by == operator_client.user
    assert client.get(reverse("dashboard")).status_code == 302  # not before the factor
    assert AuditEvent.objects.filter(action=Action.STAFF_INVITE_ACCEPTED).count() == 1
    # the link worked once
    assert Client().get(link).status_code == 410
    again = Client().post(
        link, {"password": "another-passphrase-2", "password_again": "another-passphrase-2"}
    )
    assert again.status_code == 410


def test_an_invitation_expires(operator_client, settings):
    settings.PORTAL_INVITE_HOURS = 2
    link = invite(operator_client, role="auditor")
    with time_machine.travel(timezone.now() + dt.timedelta(hours=2, minutes=1)):
        assert Client().get(link).status_code == 410
    with time_machine.travel(timezone.now() + dt.timedelta(hours=1, minutes=59)):
        page = Client().get(link)
        assert page.status_code == 200


def test_a_new_invitation_replaces_the_open_one(operator_client):
    first = invite(operator_client, role="auditor")
    second = invite(operator_client, role="auditor")
    assert Client().get(first).status_code == 410
    assert Client().get(second).status_code == 200


def test_an_invitation_is_refused_for_an_existing_account(operator_client):
    response = operator_client.post(
        reverse("accounts:staff_invite"),
        {"email": "operator@example.com", "role": "auditor", "reason": "new hire"},
    )
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
