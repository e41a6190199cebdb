"""Staff accounts and the access review as the API shows them: never a password, a second
factor's secret, a recovery code or an API key's secret."""

from rest_framework import serializers

from core.api.serializers import text_field

from ..roles import STAFF_ROLES


class StaffSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The account's public id (used in the staff URLs).")
    email = serializers.CharField()
    name = serializers.CharField()
    role = serializers.CharField(help_text="operator, onboarding, auditor, or empty for none.")
    active = serializers.BooleanField()
    sign_in_method = serializers.CharField(help_text="How they sign in: `password`.")
    second_factor = serializers.BooleanField(help_text="An authenticator app is enrolled.")
    last_sign_in = serializers.DateTimeField(allow_null=True)
    locked_until = serializers.DateTimeField(
        allow_null=True, help_text="Sign-in locked after repeated failures until then, or null."
    )
    invited_by = serializers.CharField(help_text="Who invited them, or empty.")


class ApiKeyReviewSerializer(serializers.Serializer):
    id = serializers.CharField()
    prefix = serializers.CharField()
    name = serializers.CharField()
    role = serializers.CharField()
    created_by = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)


class RoleChangeReviewSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The audit event's id.")
    occurred_at = serializers.DateTimeField()
    account = serializers.CharField()
    action = serializers.CharField()
    role_before = serializers.CharField(allow_null=True)
    role_after = serializers.CharField(allow_null=True)
    by = serializers.CharField()
    reason = serializers.CharField()


class AccessReviewSerializer(serializers.Serializer):
    staff = StaffSerializer(many=True)
    api_keys = ApiKeyReviewSerializer(many=True)
    role_changes = RoleChangeReviewSerializer(many=True)


class ReasonSerializer(serializers.Serializer):
    reason = text_field(
        min_length=5,
        max_length=1000,
        help_text="Why (at least 5 characters): kept in the audit trail.",
    )


class RoleChangeSerializer(ReasonSerializer):
    role = serializers.ChoiceField(choices=[(r.value, r.label) for r in STAFF_ROLES])


class InviteSerializer(ReasonSerializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=[(r.value, r.label) for r in STAFF_ROLES])


class InviteCreatedSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.CharField()
    role = serializers.CharField()
    expires_at = serializers.DateTimeField()
    mailed = serializers.BooleanField(help_text="Whether the invitation e-mail went out.")
