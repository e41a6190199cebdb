"""The fixed vocabulary of audit actions: the one place that lists what can be recorded.

Names are `<entity>.<past-tense verb>`. A service that changes state records one of these in
the same transaction as the change (see `audit.services.audit_record`).
"""

from django.db import models


class Action(models.TextChoices):
    # staff and access
    STAFF_CREATED = "staff.created", "Staff account created"
    STAFF_SIGNED_IN = "staff.signed_in", "Signed in"
    STAFF_SIGN_IN_FAILED = "staff.sign_in_failed", "Sign-in refused"
    STAFF_SIGNED_OUT = "staff.signed_out", "Signed out"
    STAFF_SIGN_IN_LOCKED = "staff.sign_in_locked", "Sign-in locked after failures"
    STAFF_ROLE_CHANGED = "staff.role_changed", "Staff role changed"
    STAFF_SSO_SIGNED_IN = "staff.sso_signed_in", "Signed in through single sign-on"
    STAFF_SSO_REFUSED = "staff.sso_refused", "Single sign-on refused"
    STAFF_SSO_LINKED = "staff.sso_linked", "Staff account linked to single sign-on"
    STAFF_SSO_UPDATED = "staff.sso_updated", "Staff account updated from single sign-on"
    STAFF_INVITED = "staff.invited", "Staff member invited"
    STAFF_INVITE_ACCEPTED = "staff.invite_accepted", "Invitation accepted"
    STAFF_DEACTIVATED = "staff.deactivated", "Staff account deactivated"
    STAFF_REACTIVATED = "staff.reactivated", "Staff account reactivated"
    STAFF_UNLOCKED = "staff.unlocked", "Staff sign-in unlocked"
    STAFF_SESSIONS_REVOKED = "staff.sessions_revoked", "Staff sessions revoked"
    STAFF_MFA_ENROLLED = "staff.mfa_enrolled", "Second factor enrolled"
    STAFF_MFA_RESET = "staff.mfa_reset", "Second factor reset"
    STAFF_SIGNED_IN_RECOVERY_CODE = (
        "staff.signed_in_recovery_code",
        "Signed in with a recovery code",
    )
    STAFF_ACCESS_REVIEW_EXPORTED = "staff.access_review_exported", "Access review exported"
    APIKEY_CREATED = "apikey.created", "API key created"
    APIKEY_REVOKED = "apikey.revoked", "API key revoked"
    # Service Apps and webhooks
    SERVICEAPP_CREATED = "serviceapp.created", "Service App added"
    SERVICEAPP_UPDATED = "serviceapp.updated", "Service App changed"
    SERVICEAPP_TOKEN_REFRESHED = "serviceapp.token_refreshed", "Integration token refreshed"
    WEBHOOK_REGISTERED = "webhook.registered", "Webhook registered at Webex"
    WEBHOOK_RECEIVED = "webhook.received", "Webhook received"
    # customer orgs and their tokens
    ORG_ONBOARDED = "org.onboarded", "Org onboarded"
    ORG_ONBOARDING_STARTED = "org.onboarding_started", "Onboarding wizard started"
    ORG_AUTHORIZED = "org.authorized", "Org authorized the app"
    ORG_DEAUTHORIZED = "org.deauthorized", "Org removed the app"
    ORG_TOKENS_FETCHED = "org.tokens_fetched", "Org tokens fetched"
    ORG_TOKENS_REFRESHED = "org.tokens_refreshed", "Org tokens refreshed"
    ORG_TOKENS_REFRESH_FAILED = "org.tokens_refresh_failed", "Org token refresh failed"
    ORG_REAUTHORIZATION_REQUIRED = "org.reauthorization_required", "Org needs reauthorization"
    ORG_RECONCILED = "org.reconciled", "Org authorizations reconciled"
    ORG_OFFBOARDING_STARTED = "org.offboarding_started", "Offboarding started"
    ORG_OFFBOARDED = "org.offboarded", "Org offboarded"
    ORG_TOKENS_DESTROYED = "org.tokens_destroyed", "Org tokens destroyed"
    # data sources
    DATASOURCE_REGISTERED = "datasource.registered", "Data source registered"
    DATASOURCE_UPDATED = "datasource.updated", "Data source edited"
    DATASOURCE_ROTATED = "datasource.rotated", "Data source token rotated"
    DATASOURCE_ROTATION_FAILED = "datasource.rotation_failed", "Rotation failed"
    DATASOURCE_DISABLED = "datasource.disabled", "Data source disabled"
    DATASOURCE_ENABLED = "datasource.enabled", "Data source enabled"
    DATASOURCE_DELETED = "datasource.deleted", "Data source deleted"
    DATASOURCE_MAINTENANCE_SCHEDULED = "datasource.maintenance_scheduled", "Maintenance scheduled"
    DATASOURCE_DRIFT_FOUND = "datasource.drift_found", "Drift found at Webex"
    DATASOURCE_ADOPTED = "datasource.adopted", "Data source adopted from Webex"
    DATASOURCE_REPAIRED = "datasource.repaired", "Data source repaired"
    # operations
    BULK_STARTED = "bulk.started", "Bulk action started"
    BULK_FINISHED = "bulk.finished", "Bulk action finished"
    ALERT_ACKNOWLEDGED = "alert.acknowledged", "Alert acknowledged"
    ALERT_OPENED = "alert.opened", "Alert opened"
    ALERT_RESOLVED = "alert.resolved", "Alert resolved"
    ALERT_NOTIFIED = "alert.notified", "Alert notification sent"
    ALERT_ESCALATED = "alert.escalated", "Alert escalated"
    ALERT_SNOOZED = "alert.snoozed", "Alert snoozed"
    ALERT_SILENCED = "alert.silenced", "Alert silenced"
    ALERT_WOKEN = "alert.woken", "Alert snooze or silence ended"
    INCIDENT_RAISED = "incident.raised", "Incident raised"
    ALERTCHANNEL_CREATED = "alertchannel.created", "Alert channel added"
    ALERTCHANNEL_UPDATED = "alertchannel.updated", "Alert channel changed"
    ALERTCHANNEL_DELETED = "alertchannel.deleted", "Alert channel removed"
    ALERTCHANNEL_TESTED = "alertchannel.tested", "Alert channel tested"
    ENCRYPTION_KEYS_ROTATED = "encryption.keys_rotated", "Secrets re-encrypted"
    AUDIT_EXPORTED = "audit.exported", "Audit trail exported"
    AUDIT_CHECKPOINTED = "audit.checkpointed", "Audit chain checkpoint signed"


#: Actions that destroy or disable something: they cannot be recorded without a reason.
DESTRUCTIVE = frozenset(
    {
        Action.STAFF_ROLE_CHANGED,
        Action.STAFF_DEACTIVATED,
        Action.STAFF_REACTIVATED,
        Action.STAFF_UNLOCKED,
        Action.STAFF_SESSIONS_REVOKED,
        Action.STAFF_MFA_RESET,
        Action.APIKEY_REVOKED,
        Action.ORG_OFFBOARDING_STARTED,
        Action.ORG_OFFBOARDED,
        Action.ORG_TOKENS_DESTROYED,
        Action.DATASOURCE_DISABLED,
        Action.DATASOURCE_DELETED,
        Action.DATASOURCE_REPAIRED,
    }
)
