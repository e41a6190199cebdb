"""Add the `verify_jws` capability, the `verifier` group (API keys only) that holds only it,
and give it to operators too (they may do everything).

Frozen here on purpose, like 0002; a test checks that 0002 followed by this migration equals
`accounts.roles.ROLE_CAPABILITIES`.
"""

from django.db import migrations

CAPABILITIES = {
    "verify_jws": "Verify the JWS Webex presents (API keys of the verifier role)",
}
ROLES = {  # capabilities each group gains
    "operator": {"verify_jws"},
    "verifier": {"verify_jws"},
}


def create_groups(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    ct, _ = ContentType.objects.get_or_create(app_label="accounts", model="capability")
    perms = {}
    for codename, name in CAPABILITIES.items():
        perms[codename], _ = Permission.objects.get_or_create(
            content_type=ct, codename=codename, defaults={"name": name}
        )
    for role, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*[perms[c] for c in codenames])


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="verifier").delete()
    apps.get_model("auth", "Permission").objects.filter(
        content_type__app_label="accounts", codename__in=CAPABILITIES
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_api_keys")]

    operations = [migrations.RunPython(create_groups, remove_groups)]
