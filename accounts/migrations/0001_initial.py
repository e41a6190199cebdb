from django.db import migrations


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Capability",
            fields=[],
            options={
                "managed": False,
                "default_permissions": (),
                "permissions": [
                    ("view_portal", "Use the portal: dashboard, orgs and data sources (read)"),
                    ("onboard_orgs", "Onboard customer orgs and fetch their tokens"),
                    ("edit_datasources", "Register and edit data sources"),
                    ("operate", "Destructive and bulk actions: disable, delete, offboard, repair"),
                    ("view_audit", "Read the audit trail"),
                    ("export_audit", "Export the audit trail as CSV"),
                    ("manage_staff", "Manage staff accounts and API keys"),
                ],
            },
        ),
    ]
