from rest_framework import serializers

from ..export import CSV_COLUMNS
from ..models import AuditEvent


class AuditEventSerializer(serializers.ModelSerializer):
    """An event as recorded: secrets were redacted before it was written."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    changes = serializers.JSONField(read_only=True)

    class Meta:
        model = AuditEvent
        # The CSV export's columns, with the public id as `id`: one list for both shapes.
        fields = ["id", *(name for name in CSV_COLUMNS if name != "public_id")]
