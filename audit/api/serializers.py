from rest_framework import serializers

from ..models import AuditEvent


class AuditEventSerializer(serializers.ModelSerializer):
    """An event as recorded: secrets were redacted before it was written."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    changes = serializers.JSONField(read_only=True)

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "occurred_at",
            "actor_type",
            "actor",
            "action",
            "target_type",
            "target_id",
            "target_label",
            "org_id",
            "summary",
            "reason",
            "outcome",
            "error",
            "tracking_id",
            "correlation_id",
            "changes",
            "prev_hash",
            "hash",
        ]
