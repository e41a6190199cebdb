"""Leave room in each heap page so frequent row updates stay HOT.

The rotation engine updates every active data source's row several times per token lifetime
(claim, pending nonce, outcome). With free space in the page, updates that touch no indexed
column (the claim's `claimed_until`, `pending_nonce`) are heap-only: no index entries written
and no index bloat for the sweep's partial index to wade through. PostgreSQL only.
"""

from django.db import migrations


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE datasources_datasource SET (fillfactor = 80)")


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE datasources_datasource RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("datasources", "0001_initial")]

    operations = [migrations.RunPython(forward, backward)]
