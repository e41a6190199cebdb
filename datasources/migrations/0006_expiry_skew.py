"""Clock skew on a data source: what Webex reported as the JWS expiry when it was beyond now +
the requested lifetime (or already past), since when, and the sentence the page shows. Three
nullable/blank columns: no table rewrite."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('datasources', '0005_expiry_index_with_id'),
    ]

    operations = [
        migrations.AddField(
            model_name='datasource',
            name='expiry_skew_since',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='datasource',
            name='expiry_reported_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='datasource',
            name='expiry_skew_detail',
            field=models.CharField(blank=True, max_length=300),
        ),
    ]
