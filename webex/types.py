"""Typed payloads exchanged with Webex.

Parsing is tolerant where Webex is known to vary (missing `audience`/`subject`, 200 or 201,
`tokenExpiryTime` absent) and strict where a missing field would be a bug on our side. Secret
fields (`jws_token`, tokens, secrets) are excluded from `repr`, so they cannot leak through
logs or tracebacks that print these objects.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import jwt

from . import ids


def parse_time(value: str | None) -> dt.datetime | None:
    """ISO 8601 from Webex (`2024-09-05T01:35:04.772Z`) -> aware datetime, or None."""
    if not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass(frozen=True)
class DataSourceRequest:
    """The full body of a register or update call. Webex wants it whole on every update."""

    schema_id: str
    url: str
    audience: str
    subject: str
    nonce: str
    token_lifetime_minutes: int
    status: str | None = None  # update only: "active" | "disabled"
    error_message: str | None = None  # required by Webex when disabling

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "schemaId": self.schema_id,
            "url": self.url,
            "audience": self.audience,
            "subject": self.subject,
            "nonce": self.nonce,
            "tokenLifetimeMinutes": self.token_lifetime_minutes,
        }
        if self.status is not None:
            body["status"] = self.status
            body["errorMessage"] = self.error_message or ""
        return body


@dataclass(frozen=True)
class DataSource:
    id: str
    schema_id: str
    org_id: str
    application_id: str
    url: str
    audience: str
    subject: str
    nonce: str
    token_lifetime_minutes: int
    status: str
    error_message: str
    token_expiry_time: dt.datetime | None
    created_by: str = ""
    created_at: dt.datetime | None = None
    updated_by: str = ""
    updated_at: dt.datetime | None = None
    jws_token: str = field(default="", repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DataSource:
        jws = data.get("jwsToken") or ""
        expiry = parse_time(data.get("tokenExpiryTime"))
        # Decode the JWS only when the response leaves out a field its claims carry.
        complete = expiry and all(data.get(k) for k in ("audience", "subject", "nonce"))
        claims = unverified_claims(jws) if jws and not complete else {}
        if expiry is None and "exp" in claims:
            expiry = dt.datetime.fromtimestamp(claims["exp"], tz=dt.UTC)
        return cls(
            id=data["id"],
            schema_id=data.get("schemaId", ""),
            org_id=data.get("orgId", ""),
            application_id=data.get("applicationId", ""),
            url=data.get("url", ""),
            # Some responses omit audience/subject: the JWS claims carry them.
            audience=data.get("audience") or claims.get("aud", ""),
            subject=data.get("subject") or claims.get("sub", ""),
            nonce=data.get("nonce") or claims.get("jti", ""),
            token_lifetime_minutes=int(data.get("tokenLifetimeMinutes") or 0),
            status=data.get("status", ""),
            error_message=data.get("errorMessage") or "",
            token_expiry_time=expiry,
            created_by=data.get("createdBy", ""),
            created_at=parse_time(data.get("createdAt")),
            updated_by=data.get("updatedBy", ""),
            updated_at=parse_time(data.get("updatedAt")),
            jws_token=jws,
        )


def unverified_claims(token: str) -> dict[str, Any]:
    """Claims of a JWS without checking its signature: for reading fields Webex left out of a
    response we already trust (it came over our authenticated call), never for authentication.
    """
    try:
        return jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return {}


@dataclass(frozen=True)
class Schema:
    id: str
    service_type: str
    protocol: str
    description: str
    url: str
    app_type: str
    created_at: dt.datetime | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Schema:
        return cls(
            id=data["id"],
            service_type=data.get("serviceType", ""),
            protocol=data.get("protocol", ""),
            description=data.get("description", ""),
            url=data.get("url", ""),
            app_type=data.get("appType", ""),
            created_at=parse_time(data.get("createdAt")),
        )


@dataclass(frozen=True)
class TokenPair:
    """An org's access and refresh token with their absolute expiry times."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    access_expires_at: dt.datetime
    refresh_expires_at: dt.datetime | None
    token_type: str = "Bearer"  # noqa: S105 - a scheme name, not a secret
    refresh_token_rotated: bool = False

    @classmethod
    def from_json(
        cls, data: dict[str, Any], *, now: dt.datetime, previous_refresh_token: str | None = None
    ) -> TokenPair:
        new_refresh = data.get("refresh_token")
        refresh_in = data.get("refresh_token_expires_in")
        return cls(
            access_token=data["access_token"],
            # If no new refresh token comes back, the old one stays valid: keep it.
            refresh_token=new_refresh or previous_refresh_token or "",
            access_expires_at=now + dt.timedelta(seconds=int(data["expires_in"])),
            refresh_expires_at=(
                now + dt.timedelta(seconds=int(refresh_in)) if refresh_in is not None else None
            ),
            token_type=data.get("token_type", "Bearer"),
            refresh_token_rotated=bool(
                new_refresh and previous_refresh_token and new_refresh != previous_refresh_token
            ),
        )


def _plain_org_id(value: str) -> str:
    """Webex shows org ids base64-encoded in some places and plain in others: store UUIDs."""
    try:
        return str(ids.org_uuid(value))
    except ValueError:
        return value


@dataclass(frozen=True)
class Authorization:
    """One org's authorization of a Service App: the snapshot of domains and schemas it allows."""

    org_id: str
    org_name: str
    authorizer_id: str
    authorization_date: dt.datetime | None
    valid_domains: tuple[str, ...]
    schema_ids: tuple[str, ...]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Authorization:
        return cls(
            org_id=_plain_org_id(data.get("orgId", "")),
            org_name=data.get("orgName", ""),
            authorizer_id=data.get("authorizerId", ""),
            authorization_date=parse_time(data.get("authorizationDate")),
            valid_domains=tuple(data.get("validDomains") or ()),
            schema_ids=tuple(data.get("dataSourceSchemaIds") or ()),
        )


@dataclass(frozen=True)
class ServiceAppInfo:
    """The Service App object of the developer guide (not in the public OpenAPI spec)."""

    id: str
    client_id: str
    name: str
    valid_domains: tuple[str, ...]
    schema_ids: tuple[str, ...]
    authorizations: tuple[Authorization, ...]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ServiceAppInfo:
        return cls(
            id=data.get("id", ""),
            client_id=data.get("clientId", ""),
            name=data.get("name", ""),
            valid_domains=tuple(data.get("validDomains") or ()),
            schema_ids=tuple(data.get("dataSourceSchemaIds") or ()),
            authorizations=tuple(
                Authorization.from_json(a) for a in data.get("authorizationsList") or ()
            ),
        )


@dataclass(frozen=True)
class Webhook:
    id: str
    name: str
    target_url: str
    resource: str
    event: str
    filter: str
    status: str
    created: dt.datetime | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Webhook:
        return cls(
            id=data["id"],
            name=data.get("name", ""),
            target_url=data.get("targetUrl", ""),
            resource=data.get("resource", ""),
            event=data.get("event", ""),
            filter=data.get("filter") or "",
            status=data.get("status", ""),
            created=parse_time(data.get("created")),
        )
