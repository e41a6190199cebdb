"""Alerts as the API shows them. Channels appear only as the outcome of a test notification:
their team and id, never their addresses' settings or webhook secret."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.serializers import FormSerializer, text_field

from ..forms import IncidentForm
from ..models import Alert, AlertDelivery, Quiet, Severity
from ..presentation import present


class CauseSerializer(serializers.Serializer):
    error = serializers.CharField()
    tracking_id = serializers.CharField()
    since = serializers.DateTimeField(allow_null=True)


class NextStepSerializer(serializers.Serializer):
    text = serializers.CharField()
    action = serializers.CharField(allow_null=True)
    url = serializers.CharField(allow_null=True)
    method = serializers.CharField(allow_null=True)


class QuietSerializer(serializers.Serializer):
    """Snooze (`until` required) or silence (`until` null or left out: until resolved)."""

    until = serializers.DateTimeField(
        required=False, allow_null=True, help_text="When notices resume (ISO 8601)."
    )
    reason = text_field(
        min_length=5, max_length=500, help_text="Why (5 to 500 characters; audited)."
    )


class AlertSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    state = serializers.SerializerMethodField()
    org = serializers.UUIDField(
        source="org.public_id",
        read_only=True,
        allow_null=True,
        default=None,
        help_text="The org the alert is about; null for the portal's own machinery.",
    )
    org_name = serializers.CharField(
        source="org.name", read_only=True, allow_null=True, default=None
    )
    service_app = serializers.UUIDField(
        source="service_app.public_id",
        read_only=True,
        allow_null=True,
        default=None,
        help_text="The Service App the alert is about (its integration token), else null.",
    )
    about = serializers.CharField(
        source="subject_name", read_only=True, help_text="Whom the alert is about, in words."
    )
    severity = serializers.ChoiceField(choices=Severity.choices, read_only=True)
    datasource = serializers.UUIDField(
        source="datasource.public_id", read_only=True, allow_null=True, default=None
    )
    acknowledged_by = serializers.SerializerMethodField(
        help_text="A username, or `api:byods_<id>` when an API key acknowledged; null until then."
    )
    headline = serializers.SerializerMethodField(
        help_text='What is true now, computed when asked ("data stops flowing in 7 min", then '
        '"data stopped flowing 3 min ago"); `summary` is the short title kept for history.'
    )
    owner = serializers.SerializerMethodField(
        help_text="The org's owner, else the team default (ALERT_DEFAULT_OWNER)."
    )
    cause = serializers.SerializerMethodField(
        help_text="`error` (the last error), `tracking_id` (Webex's trackingId), `since`."
    )
    next_step = serializers.SerializerMethodField(
        help_text="`text`: what to do next; `action` and `url`: the button that does it, "
        "`method` how to call it (null when there is none)."
    )
    quiet = serializers.ChoiceField(
        choices=Quiet.choices,
        read_only=True,
        allow_blank=True,
        help_text="`snoozed` or `silenced` while notices are withheld (see `quiet_until`); "
        "empty otherwise.",
    )
    quiet_until = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="When the snooze or silence ends; null when not quiet or quiet until resolved.",
    )

    class Meta:
        model = Alert
        fields = [
            "id",
            "kind",
            "kind_label",
            "state",
            "org",
            "org_name",
            "service_app",
            "about",
            "severity",
            "datasource",
            "owner",
            "headline",
            "summary",
            "cause",
            "next_step",
            "quiet",
            "quiet_until",
            "quiet_reason",
            "quiet_by_label",
            "escalated_at",
            "opened_at",
            "last_seen_at",
            "acknowledged_by",
            "acknowledged_at",
            "resolved_at",
            "notified_at",
        ]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_acknowledged_by(self, alert: Alert) -> str | None:
        if alert.acknowledged_at is None:
            return None
        if alert.acknowledged_by_label:
            return alert.acknowledged_by_label
        return alert.acknowledged_by.get_username() if alert.acknowledged_by else "a former user"

    @extend_schema_field(serializers.ChoiceField(choices=["open", "resolved"]))
    def get_state(self, alert: Alert) -> str:
        return "open" if alert.is_open else "resolved"

    def _shown(self, alert: Alert):
        cache = self.context.get("presented")
        if cache is None:
            cache = self.__dict__.setdefault("_presented_cache", {})
        if alert.pk not in cache:
            cache[alert.pk] = present(alert)
        return cache[alert.pk]

    def get_headline(self, alert: Alert) -> str:
        return self._shown(alert).headline

    def get_owner(self, alert: Alert) -> str:
        return self._shown(alert).owner

    @extend_schema_field(CauseSerializer)
    def get_cause(self, alert: Alert) -> dict:
        cause = self._shown(alert).cause
        return {
            "error": cause.error,
            "tracking_id": cause.tracking_id,
            "since": cause.since.isoformat().replace("+00:00", "Z") if cause.since else None,
        }

    @extend_schema_field(NextStepSerializer)
    def get_next_step(self, alert: Alert) -> dict:
        step = self._shown(alert).next_step
        return {
            "text": step.text,
            "action": step.label or None,
            "url": step.url or None,
            "method": step.method.upper() if step.url else None,
        }


class IncidentSerializer(FormSerializer):
    """Validated by the incident page's form, then by the service: the page's messages."""

    form_class = IncidentForm

    org = serializers.UUIDField(help_text="The org's id.")
    summary = text_field(
        min_length=5, max_length=500, help_text="What is happening (5 to 500 characters)."
    )


class MediumOutcomeSerializer(serializers.Serializer):
    medium = serializers.ChoiceField(choices=AlertDelivery.Medium.choices)
    ok = serializers.BooleanField(help_text="Whether the receiver accepted the test notice.")
    error = serializers.CharField(
        help_text="Why it failed (the receiver's HTTP status or SMTP reply code, or that it "
        "could not be reached); empty when sent."
    )


class ChannelTestSerializer(serializers.Serializer):
    channel = serializers.UUIDField(source="channel.public_id", help_text="The channel's id.")
    team = serializers.CharField(source="channel.team")
    ok = serializers.BooleanField(help_text="True when every medium took the test notice.")
    message = serializers.CharField(
        source="describe", help_text="What happened by each medium, as the page says it."
    )
    results = MediumOutcomeSerializer(source="outcomes", many=True)
