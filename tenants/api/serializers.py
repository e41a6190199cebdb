"""Orgs, their token status and Service Apps as the API shows them. Never a secret: tokens,
client secrets and integration tokens have no field here; token state is times and counts."""

import contextlib
import uuid

from django.contrib.auth import get_user_model
from rest_framework import serializers

from core.api.serializers import FormSerializer, text_field

from ..forms import OffboardForm, OnboardForm
from ..models import CustomerOrg, OrgToken, Region, ServiceApp


class ServiceAppSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    org_count = serializers.SerializerMethodField()

    class Meta:
        model = ServiceApp
        fields = [
            "id",
            "name",
            "client_id",
            "application_id",
            "region",
            "valid_domains",
            "schema_ids",
            "integration_token_expires_at",
            "org_count",
            "created_at",
            "updated_at",
        ]

    def get_org_count(self, app: ServiceApp) -> int:
        counted = getattr(app, "org_count", None)  # annotated by the list's selector
        return app.orgs.count() if counted is None else counted


class TokenStatusSerializer(serializers.ModelSerializer):
    """Status and expiry of an org's tokens; the token values never leave the database."""

    has_tokens = serializers.BooleanField(read_only=True)

    class Meta:
        model = OrgToken
        fields = [
            "has_tokens",
            "access_expires_at",
            "refresh_expires_at",
            "obtained_at",
            "last_refreshed_at",
            "next_refresh_at",
            "consecutive_failures",
            "last_error",
            "last_tracking_id",
            "destroyed_at",
            "version",
        ]


class OrgSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    service_app = serializers.UUIDField(source="service_app.public_id", read_only=True)
    owner = serializers.CharField(source="owner.username", read_only=True, allow_null=True)
    token = TokenStatusSerializer(read_only=True, allow_null=True)

    class Meta:
        model = CustomerOrg
        fields = [
            "id",
            "name",
            "status",
            "status_changed_at",
            "region",
            "webex_org_id",
            "service_app",
            "owner",
            "authorized_at",
            "authorized_domains",
            "authorized_schema_ids",
            "offboard_mode",
            "offboard_progress",
            "token",
            "created_at",
            "updated_at",
            "version",
        ]


class OnboardSerializer(FormSerializer):
    """Validated by the onboarding page's form; Service App and owner by their public names."""

    form_class = OnboardForm

    service_app = serializers.UUIDField(help_text="The Service App's id (from /service-apps/).")
    webex_org_id = text_field(
        max_length=200, help_text="The org's UUID, or its base64 ciscospark://us/ORGANIZATION/… id."
    )
    name = text_field(max_length=200, help_text="Display name.")
    region = serializers.ChoiceField(choices=Region.choices)
    owner = serializers.EmailField(
        required=False, allow_blank=True, help_text="E-mail of the customer-success owner."
    )

    def prepare(self, data: dict) -> dict:
        app = None
        with contextlib.suppress(ValueError):
            app_id = uuid.UUID(data.get("service_app") or "")
            app = ServiceApp.objects.filter(public_id=app_id).first()
        if data.get("service_app"):
            # An unknown id fails as the form's unknown choice does, with the form's message.
            data["service_app"] = str(app.pk) if app else "-1"
        owner = data.get("owner", "")
        if owner:
            user = get_user_model().objects.filter(username=owner.strip().lower()).first()
            data["owner"] = str(user.pk) if user else "-1"
        return data


class OffboardSerializer(FormSerializer):
    form_class = OffboardForm

    confirm_name = text_field(max_length=200, help_text="The org's name, exactly.")
    mode = serializers.ChoiceField(choices=CustomerOrg.OffboardMode.choices)
    reason = text_field(
        min_length=5, max_length=256, help_text="Kept in the audit trail (5 to 256 characters)."
    )


class RefreshResultSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(
        choices=[
            "refreshed",
            "already_refreshed",
            "not_due",
            "skipped",
            "failed",
            "reauthorization_required",
        ]
    )
    detail = serializers.CharField(allow_blank=True)
    token = TokenStatusSerializer(allow_null=True)
