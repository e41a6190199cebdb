"""JSON representations of the stored objects.

Id formats follow Webex's split personality:

* the Data Sources API uses plain ids: ``orgId`` is the org UUID and ``applicationId`` the plain
  client id (README, response fields); ``createdBy``/``updatedBy`` are the UUID of the Service
  App's machine account in that org (stable per app and org);
* the rest of the public API (webhooks, the Service App object) uses base64
  ``ciscospark://us/<KIND>/<id>`` ids, as Webex's people, org and webhook ids are.
"""

from __future__ import annotations

from typing import Any

from . import ids
from .clock import iso
from .state import Authorization, DataSource, IntegrationClient, Org, ServiceApp, Token, Webhook


def machine_account_id(client_id: str, org_id: str) -> str:
    """The Service App's machine account in ``org_id``: the ``createdBy`` of its data sources."""
    return ids.stable_uuid("machine-account", client_id, org_id)


def default_authorizer_id(org_id: str) -> str:
    """The Full Admin of ``org_id`` who authorizes apps when the control call names nobody."""
    return ids.stable_uuid("full-admin", org_id)


def data_source(source: DataSource) -> dict[str, Any]:
    return {
        "id": source.id,
        "schemaId": source.schema_id,
        "orgId": source.org_id,
        "applicationId": source.client_id,
        "url": source.url,
        "audience": source.audience,
        "subject": source.subject,
        "nonce": source.nonce,
        "tokenLifetimeMinutes": source.token_lifetime_minutes,
        "status": source.status,
        "errorMessage": source.error_message,
        "jwsToken": source.jws_token,
        "tokenExpiryTime": iso(source.token_expiry),
        "createdBy": source.created_by,
        "createdAt": iso(source.created_at),
        "updatedBy": source.updated_by,
        "updatedAt": iso(source.updated_at),
    }


def authorization_entry(authorization: Authorization, org: Org | None) -> dict[str, Any]:
    """One ``authorizationsList`` entry of the Service App object (developer guide fields)."""
    return {
        "authorizerId": ids.encode(ids.PEOPLE, authorization.authorizer_id),
        "orgId": ids.encode(ids.ORGANIZATION, authorization.org_id),
        "orgName": org.name if org else "",
        "authorizationDate": iso(authorization.authorization_date),
        "validDomains": list(authorization.valid_domains),
        "dataSourceSchemaIds": list(authorization.schema_ids),
    }


def service_app_object(app: ServiceApp, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """``GET /v1/applications/{applicationId}``: the Service App as the developer guide shows it."""
    return {
        "id": app.application_id,
        "clientId": app.client_id,
        "name": app.name,
        "type": "serviceApp",
        "scopes": list(app.scopes),
        "validDomains": list(app.valid_domains),
        "dataSourceSchemaIds": list(app.schema_ids),
        "authorizationsList": entries,
        "authorizationsCount": len(entries),
        "created": iso(app.created_at),
    }


def webhook(hook: Webhook) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": hook.id,
        "name": hook.name,
        "targetUrl": hook.target_url,
        "resource": hook.resource,
        "event": hook.event,
    }
    if hook.filter:
        body["filter"] = hook.filter
    if hook.secret:
        body["secret"] = hook.secret
    body["status"] = hook.status
    body["created"] = iso(hook.created)
    if hook.owned_by:
        body["ownedBy"] = hook.owned_by
    body["orgId"] = ids.encode(ids.ORGANIZATION, hook.org_id)
    body["createdBy"] = hook.created_by
    body["appId"] = hook.app_id
    return body


# ------------------------------------------------------------------ control API views


def control_app(app: ServiceApp) -> dict[str, Any]:
    """A Service App with its credentials (control surface only)."""
    return {
        "applicationId": app.application_id,
        "clientId": app.client_id,
        "clientSecret": app.client_secret,
        "name": app.name,
        "validDomains": list(app.valid_domains),
        "dataSourceSchemaIds": list(app.schema_ids),
        "scopes": list(app.scopes),
        "createdAt": iso(app.created_at),
        "updatedAt": iso(app.updated_at),
    }


def control_integration_client(client: IntegrationClient) -> dict[str, Any]:
    """An integration OAuth client with its secret (control surface only)."""
    return {
        "clientId": client.client_id,
        "clientSecret": client.client_secret,
        "personId": client.person_id,
        "scopes": list(client.scopes),
        "accessTokenLifetimeSeconds": client.access_token_lifetime_seconds,
        "createdAt": iso(client.created_at),
    }


def control_org(org: Org) -> dict[str, Any]:
    return {
        "id": org.id,
        "webexId": org.webex_id,
        "name": org.name,
        "region": org.region,
        "createdAt": iso(org.created_at),
    }


def control_authorization(authorization: Authorization) -> dict[str, Any]:
    return {
        "applicationId": ids.encode(ids.APPLICATION, authorization.client_id),
        "clientId": authorization.client_id,
        "orgId": authorization.org_id,
        "authorizerId": authorization.authorizer_id,
        "authorizationDate": iso(authorization.authorization_date),
        "validDomains": list(authorization.valid_domains),
        "dataSourceSchemaIds": list(authorization.schema_ids),
        "active": authorization.active,
        "deauthorizedAt": None
        if authorization.deauthorized_at is None
        else iso(authorization.deauthorized_at),
    }


def control_token(token: Token, now: float) -> dict[str, Any]:
    return {
        "token": token.value,
        "kind": token.kind,
        "clientId": token.client_id,
        "orgId": token.org_id,
        "personId": token.person_id,
        "scopes": list(token.scopes),
        "issuedAt": iso(token.issued_at),
        "expiresAt": iso(token.expires_at),
        "expired": token.expires_at <= now,
        "revokedAt": None if token.revoked_at is None else iso(token.revoked_at),
        "revokedReason": token.revoked_reason,
        "refreshToken": token.refresh_token,
    }
