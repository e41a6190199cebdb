"""Alerts: derive them from the portal's state, acknowledge them, and deliver them to people.

`alerts_evaluate` is the only writer of derived alerts (kinds other than incident): it
computes the set of current conditions, opens an episode for each new one, touches the ones
that persist and resolves the ones that cleared. Delivery is at most once per (episode,
channel, medium, event): `AlertDelivery` rows are claimed with a lease before the network call
and marked sent after it, so a retried task never sends twice what was already sent.
"""

from .actions import (
    alert_acknowledge,
    alert_incident_raise,
    alert_resolve,
    alert_silence,
    alert_snooze,
    alert_wake,
)
from .channels import alertchannel_create, alertchannel_delete, alertchannel_update
from .delivery import (
    DELIVERY_LEASE,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WEBHOOK_TIMEOUT,
    ChannelTestReport,
    DeliveryFailed,
    DeliveryReport,
    MediumOutcome,
    alert_deliver,
    alertchannel_test,
    alerts_deliver_inline,
    webhook_signature,
)
from .evaluation import (
    DERIVED,
    LIVENESS,
    Condition,
    EvaluationReport,
    alerts_evaluate,
    alerts_watch_liveness,
)

__all__ = [
    "DELIVERY_LEASE",
    "DERIVED",
    "LIVENESS",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "WEBHOOK_TIMEOUT",
    "ChannelTestReport",
    "Condition",
    "DeliveryFailed",
    "DeliveryReport",
    "EvaluationReport",
    "MediumOutcome",
    "alert_acknowledge",
    "alert_deliver",
    "alert_incident_raise",
    "alert_resolve",
    "alert_silence",
    "alert_snooze",
    "alert_wake",
    "alertchannel_create",
    "alertchannel_delete",
    "alertchannel_test",
    "alertchannel_update",
    "alerts_deliver_inline",
    "alerts_evaluate",
    "alerts_watch_liveness",
    "webhook_signature",
]
