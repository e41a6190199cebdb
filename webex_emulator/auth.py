"""Bearer token authentication for the ``/v1`` routes.

Two kinds of bearer token exist:

* **org tokens**: a Service App's access token for one org, from
  ``POST /v1/applications/{id}/token`` or a refresh. They carry the app's scopes
  (``spark-admin:datasource_read``/``_write``) and see only that org's data sources of that app;
* **integration tokens**: the partner's own token (``POST /_emulator/integration-tokens``), with
  explicit scopes such as ``spark:applications_token``. They mint org tokens and read the Service
  App object; they have no org data of their own. Those issued ``withRefresh`` can be refreshed
  at ``POST /v1/access_token``; the refreshed ones are integration tokens like the first.

Refresh tokens (of a Service App or of an integration) are never bearer tokens: 401.

The rules of the README's table: an unknown, expired or malformed token is 401; a known org token
whose org no longer authorizes the app is 403 (deauthorization also revokes the token, but the
emulator reports the reason, not just "unknown"); a token that lacks the scope or is of the wrong
kind for the route is 403. A revoked token of an org that has authorized again is 401: revocation
is final.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from . import ids
from .errors import WebexError
from .runtime import Emulator, RequestContext
from .state import ServiceApp, Token
from .views import machine_account_id

SCOPE_DATASOURCE_READ = "spark-admin:datasource_read"
SCOPE_DATASOURCE_WRITE = "spark-admin:datasource_write"
SCOPE_APPLICATIONS = "spark:applications_token"

REFRESH_KINDS = ("refresh", "integration_refresh")


@dataclass(frozen=True)
class Principal:
    """Who is calling: an org token (``app`` set) or an integration token."""

    token: Token
    org_id: str
    app: ServiceApp | None

    @property
    def is_org_token(self) -> bool:
        return self.app is not None

    @property
    def owner(self) -> str:
        """Ownership key for webhooks: stable across token refreshes."""
        if self.app is not None:
            return f"app:{self.app.client_id}:org:{self.org_id}"
        return f"person:{self.token.person_id}"

    @property
    def person_id(self) -> str:
        """The acting identity: the machine account of an org token, else the token's person."""
        if self.app is not None:
            return machine_account_id(self.app.client_id, self.org_id)
        return self.token.person_id or ""

    @property
    def webex_app_id(self) -> str:
        """The application the caller acts through (the Service App or the partner integration)."""
        if self.app is not None:
            return self.app.application_id
        return ids.encode(ids.APPLICATION, ids.stable_uuid("integration", self.person_id))


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def authenticate(emulator: Emulator, request: Request, context: RequestContext) -> Principal:
    value = bearer(request)
    if value is None:
        raise WebexError(
            401,
            "The request requires a valid access token set in the Authorization request header.",
        )
    store = emulator.store
    token = store.get_token(value)
    if token is None or token.kind in REFRESH_KINDS:
        raise WebexError(401, "The access token is invalid or unknown.")
    if token.expires_at <= store.now():
        raise WebexError(401, "The access token has expired.")
    if token.kind == "integration":
        if token.revoked_at is not None:
            raise WebexError(401, "The access token has been revoked.")
        return Principal(token=token, org_id=token.org_id or "", app=None)

    assert token.client_id is not None and token.org_id is not None
    context.org_id = token.org_id
    context.client_id = token.client_id
    app = store.get_app(token.client_id)
    if app is None:
        raise WebexError(401, "The access token is invalid or unknown.")
    if store.get_authorization(token.client_id, token.org_id) is None:
        raise WebexError(403, "The organization no longer authorizes this Service App.")
    if token.revoked_at is not None:
        raise WebexError(401, "The access token has been revoked.")
    return Principal(token=token, org_id=token.org_id, app=app)


def require_org_token(principal: Principal, scope: str) -> ServiceApp:
    """The caller's Service App, if it is an org token holding ``scope``; else 403."""
    if principal.app is None:
        raise WebexError(403, "This API requires a Service App access token for an organization.")
    if scope not in principal.token.scopes:
        raise WebexError(403, f"The access token lacks the scope {scope}.")
    return principal.app


def require_integration(principal: Principal, scope: str | None = None) -> None:
    if principal.is_org_token:
        raise WebexError(403, "This API requires the partner's own integration or personal token.")
    if scope is not None and scope not in principal.token.scopes:
        raise WebexError(403, f"The access token lacks the scope {scope}.")
