"""Create the three staff groups with their permissions.

Frozen here on purpose (migrations must not import code that changes later); a test checks that
this table equals `accounts.roles.ROLE_CAPABILITIES`. A later change of a role's rights is a
new migration.
"""

from django.db import migrations

CAPABILITIES = {
    "view_portal": "Use the portal: dashboard, orgs and data sources (read)",
    "onboard_orgs": "Onboard customer orgs and fetch their tokens",
    "edit_datasources": "Register and edit data sources",
    "operate": "Destructive and bulk actions: disable, delete, offboard, repair",
    "view_audit": "Read the audit trail",
    "export_audit": "Export the audit trail as CSV",
    "manage_staff": "Manage staff accounts and API keys",
}
ROLES = {
    "operator": set(CAPABILITIES),
    "onboarding": {"view_portal", "onboard_orgs", "edit_datasources"},
    "auditor": {"view_portal", "view_audit", "export_audit"},
}


def create_groups(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    # Permissions are normally created after all migrations (post_migrate); create them now so
    # the groups can reference them. post_migrate then finds them already there.
    ct, _ = ContentType.objects.get_or_create(app_label="accounts", model="capability")
    perms = {}
    for codename, name in CAPABILITIES.items():
        perms[codename], _ = Permission.objects.get_or_create(
            content_type=ct, codename=codename, defaults={"name": name}
        )
    for role, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set([perms[c] for c in codenames])


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
