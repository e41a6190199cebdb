"""Data sources as the API shows them. The JWS is never stored, and nonces stay internal."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.serializers import FormSerializer

from .. import selectors
from ..forms import DataSourceForm, DisableForm
from ..models import DataSource


class DataSourceSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    org = serializers.UUIDField(source="org.public_id", read_only=True)
    org_name = serializers.CharField(source="org.name", read_only=True)
    health = serializers.SerializerMethodField()

    class Meta:
        model = DataSource
        fields = [
            "id",
            "org",
            "org_name",
            "webex_id",
            "schema_id",
            "url",
            "audience",
            "subject",
            "token_lifetime_minutes",
            "status",
            "error_message",
            "health",
            "token_expires_at",
            "next_rotation_at",
            "last_rotated_at",
            "consecutive_failures",
            "last_error",
            "last_tracking_id",
            "missing_at_webex_since",
            "maintenance_disable_at",
            "maintenance_enable_at",
            "maintenance_message",
            "created_at",
            "updated_at",
            "version",
        ]

    @extend_schema_field(serializers.ChoiceField(choices=selectors.HEALTH))
    def get_health(self, ds: DataSource) -> str:
        return ds.health(self.context.get("now") or timezone.now())


class DataSourceInputSerializer(FormSerializer):
    """Validated by the page's form and then `datasources.validation` (through the service):
    the same messages as the register and edit pages."""

    form_class = DataSourceForm

    schema_id = serializers.CharField(help_text="One of the schema ids the org authorized.")
    url = serializers.CharField(help_text="https:// on one of the org's authorized domains.")
    audience = serializers.CharField(help_text="The JWS's audience claim.")
    subject = serializers.CharField(help_text="The JWS's subject claim.")
    token_lifetime_minutes = serializers.IntegerField(help_text="1 to 1440.")


class RegisterSerializer(DataSourceInputSerializer):
    org = serializers.UUIDField(help_text="The org's id; the org must be active.")


class DisableSerializer(FormSerializer):
    form_class = DisableForm

    message = serializers.CharField(help_text="Shown to the customer's admin in Control Hub.")


class RotationResultSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(
        choices=[
            "rotated",
            "in_progress",
            "already_rotated",
            "skipped",
            "paused",
            "missing",
            "rate_limited",
            "failed",
        ]
    )
    detail = serializers.CharField(allow_blank=True)
    datasource = DataSourceSerializer()
