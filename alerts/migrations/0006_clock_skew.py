"""A new alert kind, CLOCK_SKEW: Webex reported a JWS expiry far beyond now + the requested
lifetime (or already past). Only the choices change: no table rewrite."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('alerts', '0005_live_alerts'),
        ('datasources', '0006_expiry_skew'),
    ]

    operations = [
        migrations.AlterField(
            model_name='alert',
            name='kind',
            field=models.CharField(choices=[('token_at_risk', 'Token at risk'), ('rotation_failing', 'Rotation failing'), ('org_reauthorization', 'Org needs reauthorization'), ('drift_found', 'Drift found'), ('offboarding_stalled', 'Offboarding stalled'), ('clock_skew', 'Clock skew suspected'), ('incident', 'Incident'), ('integration_token_failing', 'Integration token refresh failing'), ('scheduler_silent', 'Scheduler silent'), ('no_worker', 'No live worker')], max_length=30),
        ),
    ]
