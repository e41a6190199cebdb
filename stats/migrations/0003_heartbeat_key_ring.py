from django.db import migrations, models


class Migration(migrations.Migration):
    """Heartbeats say which encryption keys each process holds; web processes beat too."""

    dependencies = [
        ("stats", "0002_liveness_and_webex_calls"),
    ]

    operations = [
        migrations.AddField(
            model_name="serviceheartbeat",
            name="key_ids",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="serviceheartbeat",
            name="primary_key_id",
            field=models.CharField(blank=True, default="", max_length=32),
        ),
        migrations.AlterField(
            model_name="serviceheartbeat",
            name="role",
            field=models.CharField(
                choices=[("worker", "Worker"), ("scheduler", "Scheduler"), ("web", "Web")],
                max_length=20,
            ),
        ),
    ]
