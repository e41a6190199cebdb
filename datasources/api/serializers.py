"""Data sources as the API shows them. The JWS is never stored, and nonces stay internal."""

from django.core.validators import RegexValidator
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.serializers import TEXT_PATTERN, TEXT_RULE, FormSerializer, text_field

from .. import selectors
from ..forms import DataSourceForm, DisableForm
from ..models import DataSource


class DataSourceSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    org = serializers.UUIDField(source="org.public_id", read_only=True)
    org_name = serializers.CharField(source="org.name", read_only=True)
    health = serializers.SerializerMethodField()
    health_label = serializers.SerializerMethodField(
        help_text="The health in words, with what stops the data when it is `not_flowing` "
        '("Not flowing: disabled at Webex", "Not flowing: URL changed at Webex").'
    )

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
            "health_label",
            "token_expires_at",
            "next_rotation_at",
            "last_rotated_at",
            "consecutive_failures",
            "last_error",
            "last_tracking_id",
            "missing_at_webex_since",
            "expiry_skew_since",
            "expiry_reported_at",
            "expiry_skew_detail",
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

    def get_health_label(self, ds: DataSource) -> str:
        return selectors.datasource_health(ds, self.context.get("now") or timezone.now())[1]


# https:// (any case) and then no space or control character, as `datasources.validation` wants;
# the host's rules (the org's domains) are the service's.
URL_PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]://[^\x00-\x20\x7f-\x9f\\]+$"


@extend_schema_field({"type": "string", "maxLength": 2000, "pattern": URL_PATTERN})
class UrlField(serializers.CharField):
    """Read as sent (no trimming) and checked here only for what the service's rules would
    let through by trimming; the rules themselves (`check_url`) give their own messages."""

    def __init__(self, **kwargs):
        super().__init__(
            max_length=2000,
            trim_whitespace=False,
            validators=[RegexValidator(TEXT_PATTERN, TEXT_RULE)],
            **kwargs,
        )


class DataSourceInputSerializer(FormSerializer):
    """Validated by the page's form and then `datasources.validation` (through the service):
    the same messages as the register and edit pages."""

    form_class = DataSourceForm

    schema_id = serializers.UUIDField(help_text="One of the schema ids the org authorized.")
    url = UrlField(
        help_text="https:// on one of the org's authorized domains (or a subdomain). The host "
        "is stored and sent as Webex reads it: lower case, punycode, no trailing dot.",
    )
    audience = text_field(max_length=200, help_text="The JWS's audience claim.")
    subject = text_field(max_length=200, help_text="The JWS's subject claim.")
    token_lifetime_minutes = serializers.IntegerField(
        min_value=1, max_value=1440, help_text="Minutes, 1 to 1440."
    )


class RegisterSerializer(DataSourceInputSerializer):
    org = serializers.UUIDField(help_text="The org's id; the org must be active.")


class UpdateSerializer(DataSourceInputSerializer):
    """An edit: every field but the schema, which Webex never changes."""

    schema_id = serializers.UUIDField(
        required=False,
        help_text="Cannot change (Webex refuses it): leave it out, or send the data source's "
        "own schema id. Another one is a 400 naming `schema_id`, and nothing is sent.",
    )


class DisableSerializer(FormSerializer):
    form_class = DisableForm

    message = text_field(max_length=256, help_text="Shown to the customer's admin in Control Hub.")


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
