"""Writes for customer orgs, Service Apps and their tokens.

Every state change goes through one function here and records its audit event in the same
transaction. Calls to Webex happen outside transactions, except the token refresh, which holds
the org's token row lock across its single (timeout-bounded) call: that lock is what makes
refresh single-flight, so fifty concurrent triggers make one call (see `org_tokens_refresh`).

The package's rooms:
- `lifecycle`: the transition table (`TRANSITIONS`, `org_transition`) and the errors;
- `service_apps`: adding a Service App, its integration token, webhooks, reconciliation;
- `onboarding`: staff onboarding, the wizard's steps, a pasted token pair;
- `authorization`: the authorization webhook's table (`org_authorized`, `org_deauthorized`)
  and fetching an authorized org's tokens;
- `activation`: what those share: fetching tokens and the snapshot from Webex, storing them;
- `tokens`: refresh (single-flight), the refresh sweep's claim, destruction;
- `offboarding`: the org's side of an offboarding.

Callers import from here (`from tenants import services`); the names below are the API.
"""

from .authorization import org_authorized, org_deauthorized, org_tokens_fetch
from .lifecycle import TRANSITIONS, IllegalTransition, WebexRefused, org_transition
from .offboarding import (
    org_offboard_attempt_failed,
    org_offboard_attempt_started,
    org_offboard_finish,
    org_offboard_progress_save,
    org_offboard_start,
)
from .onboarding import (
    TOKEN_MAX_LENGTH,
    WIZARD_RESUMABLE,
    org_onboard,
    org_onboarding_start,
    org_onboarding_tokens_fetch,
    org_tokens_paste,
    parse_org_id,
)
from .service_apps import (
    ReconcileReport,
    serviceapp_create,
    serviceapp_integration_token_refresh,
    serviceapp_reconcile,
    serviceapp_register_webhooks,
)
from .tokens import (
    RefreshResult,
    org_token_due,
    org_tokens_claim_due,
    org_tokens_destroy,
    org_tokens_refresh,
)

__all__ = [
    "TOKEN_MAX_LENGTH",
    "TRANSITIONS",
    "WIZARD_RESUMABLE",
    "IllegalTransition",
    "ReconcileReport",
    "RefreshResult",
    "WebexRefused",
    "org_authorized",
    "org_deauthorized",
    "org_offboard_attempt_failed",
    "org_offboard_attempt_started",
    "org_offboard_finish",
    "org_offboard_progress_save",
    "org_offboard_start",
    "org_onboard",
    "org_onboarding_start",
    "org_onboarding_tokens_fetch",
    "org_token_due",
    "org_tokens_claim_due",
    "org_tokens_destroy",
    "org_tokens_fetch",
    "org_tokens_paste",
    "org_tokens_refresh",
    "org_transition",
    "parse_org_id",
    "serviceapp_create",
    "serviceapp_integration_token_refresh",
    "serviceapp_reconcile",
    "serviceapp_register_webhooks",
]
