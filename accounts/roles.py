"""Staff roles and what each may do: the one place that decides.

A role is a Django group; what a role may do is a set of permissions on the `accounts.Capability`
pseudo-model. Views check permissions (`permission_required`), never role names, so a rule lives
here and nowhere else. The groups are created by migration `0002_role_groups`; a test checks
that migration and this table agree.
"""

from django.contrib.auth.models import AnonymousUser, User
from django.db import models


class Role(models.TextChoices):
    OPERATOR = "operator", "Operator"
    ONBOARDING = "onboarding", "Onboarding / customer success"
    AUDITOR = "auditor", "Auditor"
    # Machines only (API keys): checks the JWS Webex presents, and nothing else.
    VERIFIER = "verifier", "JWS verifier (API keys only)"


class Perm:
    """Permission names as views and templates use them (`app_label.codename`)."""

    VIEW_PORTAL = "accounts.view_portal"
    ONBOARD_ORGS = "accounts.onboard_orgs"
    EDIT_DATASOURCES = "accounts.edit_datasources"
    OPERATE = "accounts.operate"  # destructive and bulk actions: disable, delete, offboard
    VIEW_AUDIT = "accounts.view_audit"
    EXPORT_AUDIT = "accounts.export_audit"
    MANAGE_STAFF = "accounts.manage_staff"
    VERIFY_JWS = "accounts.verify_jws"


# codename -> human description; the Capability model declares exactly these.
CAPABILITIES: dict[str, str] = {
    "view_portal": "Use the portal: dashboard, orgs and data sources (read)",
    "onboard_orgs": "Onboard customer orgs and fetch their tokens",
    "edit_datasources": "Register and edit data sources",
    "operate": "Destructive and bulk actions: disable, delete, offboard, repair",
    "view_audit": "Read the audit trail",
    "export_audit": "Export the audit trail as CSV",
    "manage_staff": "Manage staff accounts and API keys",
    "verify_jws": "Verify the JWS Webex presents (API keys of the verifier role)",
}

ROLE_CAPABILITIES: dict[str, frozenset[str]] = {
    Role.OPERATOR: frozenset(CAPABILITIES),
    Role.ONBOARDING: frozenset({"view_portal", "onboard_orgs", "edit_datasources"}),
    Role.AUDITOR: frozenset({"view_portal", "view_audit", "export_audit"}),
    Role.VERIFIER: frozenset({"verify_jws"}),
}

#: Roles a staff account (a person who signs in) may hold; the others are for API keys only.
STAFF_ROLES = (Role.OPERATOR, Role.ONBOARDING, Role.AUDITOR)


def role_has_perm(role: str, perm: str) -> bool:
    """Whether `role` grants `perm` (an `app_label.codename` from `Perm`): how an API key,
    which acts with a role rather than as a user, is checked against the same names."""
    app_label, _, codename = perm.partition(".")
    return app_label == "accounts" and codename in ROLE_CAPABILITIES.get(role, frozenset())


def user_role(user: User | AnonymousUser) -> Role | None:
    """The role of a staff user (a superuser counts as an operator), or None."""
    if not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return Role.OPERATOR
    names = set(user.groups.values_list("name", flat=True))
    for role in Role:  # ordered most to least privileged
        if role.value in names:
            return role
    return None
