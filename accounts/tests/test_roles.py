import importlib

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from accounts.roles import CAPABILITIES, ROLE_CAPABILITIES, Perm, Role, user_role
from accounts.services import staff_user_create
from audit.context import Actor

SETUP = Actor.system("test-setup")

groups_migration = importlib.import_module("accounts.migrations.0002_role_groups")
verifier_migration = importlib.import_module("accounts.migrations.0004_verifier_role")


def test_the_migrations_create_the_groups_the_role_table_describes():
    added = verifier_migration.ROLES
    roles = {
        r: groups_migration.ROLES.get(r, set()) | added.get(r, set())
        for r in groups_migration.ROLES | added
    }
    assert {r.value: set(c) for r, c in ROLE_CAPABILITIES.items()} == roles
    assert groups_migration.CAPABILITIES | verifier_migration.CAPABILITIES == CAPABILITIES


@pytest.mark.django_db
def test_each_group_holds_exactly_its_roles_permissions():
    for role, capabilities in ROLE_CAPABILITIES.items():
        group = Group.objects.get(name=role.value)
        assert set(group.permissions.values_list("codename", flat=True)) == set(capabilities)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "allowed", "refused"),
    [
        (Role.OPERATOR, [Perm.OPERATE, Perm.VIEW_AUDIT, Perm.MANAGE_STAFF], []),
        (
            Role.ONBOARDING,
            [Perm.ONBOARD_ORGS, Perm.EDIT_DATASOURCES],
            [Perm.OPERATE, Perm.VIEW_AUDIT, Perm.MANAGE_STAFF],
        ),
        (
            Role.AUDITOR,
            [Perm.VIEW_AUDIT, Perm.EXPORT_AUDIT],
            [Perm.OPERATE, Perm.ONBOARD_ORGS, Perm.EDIT_DATASOURCES, Perm.MANAGE_STAFF],
        ),
    ],
)
def test_a_role_grants_its_permissions_and_no_others(role, allowed, refused):
    user, _ = staff_user_create(email=f"{role.value}@example.com", role=role, actor=SETUP)
    assert user_role(user) == role
    assert all(user.has_perm(p) for p in allowed + [Perm.VIEW_PORTAL])
    assert not any(user.has_perm(p) for p in refused)


@pytest.mark.django_db
def test_only_operators_may_use_the_django_admin():
    op, _ = staff_user_create(email="op@example.com", role=Role.OPERATOR, actor=SETUP)
    aud, _ = staff_user_create(email="aud@example.com", role=Role.AUDITOR, actor=SETUP)
    assert op.is_staff and not aud.is_staff


@pytest.mark.django_db
def test_create_staff_user_prints_a_generated_password_that_works(capsys, client):
    call_command("create_staff_user", "Jane@Example.com", "--role", "auditor", "--name", "Jane Doe")
    out = capsys.readouterr().out
    password = out.split("Password: ")[1].strip()
    assert "Created Auditor jane@example.com" in out
    assert client.login(username="jane@example.com", password=password)


@pytest.mark.django_db
def test_create_staff_user_rejects_a_bad_email_naming_the_field():
    with pytest.raises(CommandError, match="email: 'not-an-email' is not a valid e-mail"):
        call_command("create_staff_user", "not-an-email", "--role", "operator")


@pytest.mark.django_db
def test_it_rejects_a_duplicate_account_and_a_weak_password():
    staff_user_create(email="a@example.com", role=Role.OPERATOR, actor=SETUP)
    with pytest.raises(ValidationError) as dup:
        staff_user_create(email="A@example.com", role=Role.AUDITOR, actor=SETUP)
    assert "already exists" in dup.value.message_dict["email"][0]
    with pytest.raises(ValidationError) as weak:
        staff_user_create(email="b@example.com", role=Role.AUDITOR, password="short", actor=SETUP)
    assert "password" in weak.value.message_dict


@pytest.mark.django_db
def test_a_user_without_a_group_has_no_role(django_user_model):
    user = django_user_model.objects.create_user(username="x@example.com")
    assert user_role(user) is None
    assert not user.has_perm(Perm.VIEW_PORTAL)
