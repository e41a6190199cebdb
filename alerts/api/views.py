"""API for alerts and for testing alert channels. Each action calls one service, with the same
permissions as the pages (alerts/views.py says who may do what); the rules live in
`alerts.services`."""

from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from accounts.api.authentication import ApiKeyPrincipal
from accounts.roles import Perm
from core.api.errors import Conflict
from core.api.filters import StrictFilterBackend
from core.api.schema import error_example, example
from core.api.views import PortalViewSet
from core.queueing import enqueue_on_commit
from tenants.api.views import ORG_EXAMPLE

from .. import selectors, services, tasks
from ..models import Alert, AlertChannel
from ..presentation import present_many
from .filters import AlertFilter
from .serializers import (
    AlertSerializer,
    ChannelTestSerializer,
    IncidentSerializer,
    QuietSerializer,
)

ALERT_EXAMPLE = {
    "id": "6c2e9a4f-1b3d-4e5a-9f7c-2d8b0e1a3c66",
    "kind": "incident",
    "kind_label": "Incident",
    "state": "open",
    "org": ORG_EXAMPLE["id"],
    "org_name": ORG_EXAMPLE["name"],
    "datasource": None,
    "severity": "critical",
    "owner": "cs@example.com",
    "headline": "Webex reports delayed data for Globex Retail since 09:10 UTC",
    "summary": "Webex reports delayed data for Globex Retail since 09:10 UTC",
    "cause": {"error": "", "tracking_id": "", "since": "2026-11-23T09:12:00Z"},
    "next_step": {
        "text": "Follow the incident and resolve it here when it is over.",
        "action": None,
        "url": None,
        "method": None,
    },
    "quiet": "",
    "quiet_until": None,
    "quiet_reason": "",
    "quiet_by_label": "",
    "escalated_at": None,
    "opened_at": "2026-11-23T09:12:00Z",
    "last_seen_at": "2026-11-23T09:12:00Z",
    "acknowledged_by": None,
    "acknowledged_at": None,
    "resolved_at": None,
    "notified_at": "2026-11-23T09:12:03Z",
}
ACKNOWLEDGED = ALERT_EXAMPLE | {
    "acknowledged_by": "ops@example.com",
    "acknowledged_at": "2026-11-23T09:15:00Z",
}
RESOLVED_AT = "2026-11-23T10:02:00Z"
SNOOZED = ALERT_EXAMPLE | {
    "quiet": "snoozed",
    "quiet_until": "2026-11-23T12:00:00Z",
    "quiet_reason": "Customer maintenance until noon",
    "quiet_by_label": "ops@example.com",
}
CHANNEL_TEST_EXAMPLE = {
    "channel": "0b6f3c1e-8d2a-4f7b-9a1c-5e4d3b2a1f09",
    "team": "Customer success",
    "ok": False,
    "message": "E-mail to cs@example.com: sent; Webhook: failed (webhook answered HTTP 404)",
    "results": [
        {"medium": "email", "ok": True, "error": ""},
        {"medium": "webhook", "ok": False, "error": "webhook answered HTTP 404"},
    ],
}


class AlertViewSet(PortalViewSet):
    serializer_class = AlertSerializer
    filter_backends = [StrictFilterBackend]
    filterset_class = AlertFilter
    perms = {
        "list": Perm.VIEW_PORTAL,
        "retrieve": Perm.VIEW_PORTAL,
        # "I am on it": operators and onboarding staff (the org owners), not auditors.
        "acknowledge": Perm.EDIT_DATASOURCES,
        # Incidents tell every channel about a customer: operators only, as on the page.
        "incident_raise": Perm.OPERATE,
        "resolve": Perm.OPERATE,
        # What the teams hear: operators only, as on the alert's page.
        "snooze": Perm.OPERATE,
        "silence": Perm.OPERATE,
        "wake": Perm.OPERATE,
    }

    def get_queryset(self):
        return selectors.alert_list(state="all")

    def _alert(self, id) -> Alert:
        return selectors.alert_get_for_user(self.request.user, id)

    def _answer(self, alert: Alert, code: int = 200) -> Response:
        fresh = self.get_queryset().get(pk=alert.pk)
        return Response(self.get_serializer(fresh).data, status=code)

    @extend_schema(
        summary="List alerts",
        description="Newest first. Filters as on the Alerts page: `state` (`open`, the default, "
        "or `all`), `kind`, `org`, `q`.",
        tags=["alerts"],
        examples=[example("page", ALERT_EXAMPLE)],
    )
    def list(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        context = self.get_serializer_context() | {"presented": present_many(page)}
        serializer = AlertSerializer(page, many=True, context=context)
        return self.get_paginated_response(serializer.data)

    @extend_schema(summary="One alert", tags=["alerts"], examples=[example("alert", ALERT_EXAMPLE)])
    def retrieve(self, request, id):
        return self._answer(self._alert(id))

    @extend_schema(
        summary="Acknowledge an alert (“I am on it”)",
        description="Records who acknowledged it and when; acknowledging again keeps the first "
        "acknowledgement. A resolved alert answers 409 `already_resolved`.",
        tags=["alerts"],
        request=None,
        responses={200: AlertSerializer},
        examples=[
            example("acknowledged", ACKNOWLEDGED),
            error_example(
                "already_resolved",
                "This alert is already resolved; nothing to acknowledge.",
                status=409,
            ),
        ],
    )
    def acknowledge(self, request, id):
        alert = self._alert(id)
        try:
            alert = services.alert_acknowledge(alert=alert, user=self._person(), actor=self.actor())
        except ValidationError as exc:
            raise Conflict(" ".join(exc.messages), "already_resolved") from None
        return self._answer(alert)

    @extend_schema(
        summary="Raise an incident",
        description="An operator's manual alert for an org, sent to the channels that receive "
        "incidents (as the Raise an incident page does). Validated like the page.",
        tags=["alerts"],
        request=IncidentSerializer,
        responses={201: AlertSerializer},
        examples=[
            example(
                "raise",
                {"org": ORG_EXAMPLE["id"], "summary": ALERT_EXAMPLE["summary"]},
                response=False,
            ),
            example("raised", ALERT_EXAMPLE | {"notified_at": None}, 201),
            error_example(
                "invalid",
                "Check the fields: summary.",
                {"summary": ["Describe the incident in at least 5 characters."]},
            ),
        ],
    )
    def incident_raise(self, request):
        serializer = IncidentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        alert = services.alert_incident_raise(
            org=serializer.validated_data["org"],
            summary=serializer.validated_data["summary"],
            user=self._person(),
            actor=self.actor(),
        )
        enqueue_on_commit(tasks.deliver, alert.pk, "opened")
        return self._answer(alert, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Resolve an incident",
        description="Incidents only (other alerts clear when their condition does: 409 "
        "`not_an_incident`). The channels that were told of it are told it is resolved; "
        "resolving again changes nothing.",
        tags=["alerts"],
        request=None,
        responses={200: AlertSerializer},
        examples=[
            example("resolved", ALERT_EXAMPLE | {"state": "resolved", "resolved_at": RESOLVED_AT}),
            error_example(
                "not_an_incident",
                "Only incidents are resolved by hand; this alert clears on its own.",
                status=409,
            ),
        ],
    )
    def resolve(self, request, id):
        alert = self._alert(id)
        try:
            alert = services.alert_resolve(alert=alert, user=self._person(), actor=self.actor())
        except ValidationError as exc:
            raise Conflict(" ".join(exc.messages), "not_an_incident") from None
        enqueue_on_commit(tasks.deliver, alert.pk, "resolved")
        return self._answer(alert)

    def _quiet(self, request, id, service):
        alert = self._alert(id)
        serializer = QuietSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            alert = service(
                alert=alert,
                until=serializer.validated_data.get("until"),
                reason=serializer.validated_data["reason"],
                user=self._person(),
                actor=self.actor(),
            )
        except ValidationError as exc:
            if hasattr(exc, "error_dict") and "alert" in exc.error_dict:
                raise Conflict(" ".join(exc.messages), "already_resolved") from None
            raise
        return self._answer(alert)

    @extend_schema(
        summary="Snooze an alert",
        description="No notifications until `until` (required), with a `reason` (audited, "
        "`alert.snoozed`). The alert still lists (`quiet`: `snoozed`) and wakes up, notifying "
        "again, if it escalates. A resolved alert answers 409 `already_resolved`.",
        tags=["alerts"],
        request=QuietSerializer,
        responses={200: AlertSerializer},
        examples=[
            example(
                "snooze",
                {"until": "2026-11-23T12:00:00Z", "reason": "Customer maintenance until noon"},
                response=False,
            ),
            example("snoozed", SNOOZED),
        ],
    )
    def snooze(self, request, id):
        return self._quiet(request, id, services.alert_snooze)

    @extend_schema(
        summary="Silence an alert",
        description="As a snooze, but `until` may be null or left out: silent until the alert "
        "resolves (or escalates). Audited (`alert.silenced`).",
        tags=["alerts"],
        request=QuietSerializer,
        responses={200: AlertSerializer},
        examples=[
            example("silence", {"reason": "Known: the customer is migrating"}, response=False),
            example("silenced", SNOOZED | {"quiet": "silenced", "quiet_until": None}),
        ],
    )
    def silence(self, request, id):
        return self._quiet(request, id, services.alert_silence)

    @extend_schema(
        summary="End an alert's snooze or silence",
        description="Notices resume; waking an awake alert changes nothing. Audited "
        "(`alert.woken`).",
        tags=["alerts"],
        request=None,
        responses={200: AlertSerializer},
        examples=[example("woken", ALERT_EXAMPLE)],
    )
    def wake(self, request, id):
        alert = self._alert(id)
        try:
            alert = services.alert_wake(alert=alert, user=self._person(), actor=self.actor())
        except ValidationError as exc:
            raise Conflict(" ".join(exc.messages), "already_resolved") from None
        return self._answer(alert)

    # ---------------------------------------------------------------- helpers
    def _person(self):
        """The signed-in staff user, or None for an API key (the key is then the actor)."""
        user = self.request.user
        return None if isinstance(user, ApiKeyPrincipal) else user


class AlertChannelViewSet(PortalViewSet):
    """Alert channels: only their test. Who may: those who manage channels (operators)."""

    serializer_class = ChannelTestSerializer
    perms = {"test": Perm.OPERATE}

    def get_queryset(self):
        return AlertChannel.objects.none()  # channels are not listed through the API

    @extend_schema(
        summary="Send an alert channel a test notification",
        description="Sends a notice labelled TEST (naming no org, owner or alert) by each medium "
        "the channel has: e-mail to its recipients and a POST to its webhook, signed like real "
        "notices (`X-BYODS-Signature`). Disabled channels are tested too. Answers 200 with what "
        "each medium did, also when one failed (`ok: false`, the error per medium); nothing is "
        "retried. The test and its outcome are recorded in the audit trail "
        "(`alertchannel.tested`). Operators only, as on the Alert channels page.",
        tags=["alerts"],
        request=None,
        responses={200: ChannelTestSerializer},
        examples=[example("tested", CHANNEL_TEST_EXAMPLE)],
    )
    def test(self, request, id):
        channel = selectors.alertchannel_get(id)
        report = services.alertchannel_test(channel=channel, actor=self.actor())
        return Response(ChannelTestSerializer(report).data)
