"""Validation of data source payloads, as the Webex docs describe it.

Every rule failure is a 400 whose ``message`` names the offending field(s) and whose ``errors``
hold one description per problem:

* register needs ``schemaId``, ``url``, ``audience``, ``subject``, ``nonce``,
  ``tokenLifetimeMinutes``; update needs the *full* payload plus ``status`` (the docs ask for the
  full payload on every update; a partial body is a 400 naming what is missing);
* ``tokenLifetimeMinutes`` is a JSON number from 1 to 1440. Booleans, strings (even ``"60"``) and
  fractional minutes are rejected: the JWS needs ``exp - iat = minutes * 60`` in whole seconds;
* ``status`` is ``active`` or ``disabled``; disabling needs a non-empty ``errorMessage`` (it is
  shown to the customer's admin); enabling clears the stored ``errorMessage``;
* ``url`` must be ``https`` with a DNS host equal to, or a subdomain of, a domain the org
  authorized (its snapshot). ``cisco.com`` admits ``www.cisco.com`` and ``a.cisco.com`` but not
  ``cisco.com.evil.io`` nor ``evilcisco.com``. Userinfo (``https://cisco.com@evil.io``), IP
  literals and malformed hosts are rejected; any port is accepted;
* ``schemaId`` must be one of the schemas in the org's authorization snapshot.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .errors import WebexError, missing_fields

REGISTER_FIELDS = ("schemaId", "url", "audience", "subject", "nonce", "tokenLifetimeMinutes")
UPDATE_FIELDS = (*REGISTER_FIELDS, "status")
STATUSES = ("active", "disabled")
MIN_LIFETIME_MINUTES = 1
MAX_LIFETIME_MINUTES = 1440

_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


@dataclass(frozen=True)
class DataSourcePayload:
    """A validated register/update body (before the authorization checks)."""

    schema_id: str
    url: str
    audience: str
    subject: str
    nonce: str
    token_lifetime_minutes: int
    status: str
    error_message: str


def _field_error(problems: list[tuple[str, str]]) -> WebexError:
    names = list(dict.fromkeys(name for name, _ in problems))
    return WebexError(
        400,
        f"Invalid value for field(s): {', '.join(names)}",
        [f"{name}: {text}" for name, text in problems],
    )


def parse_lifetime(value: Any) -> tuple[int | None, str | None]:
    """``tokenLifetimeMinutes`` as an int, or an explanation of why it is not acceptable."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None, "must be a number of minutes"
    if not math.isfinite(value):
        return None, "must be a number of minutes"
    if int(value) != value:
        return None, "must be a whole number of minutes"
    minutes = int(value)
    if not MIN_LIFETIME_MINUTES <= minutes <= MAX_LIFETIME_MINUTES:
        return None, f"must be between {MIN_LIFETIME_MINUTES} and {MAX_LIFETIME_MINUTES}"
    return minutes, None


def parse_data_source_body(body: Mapping[str, Any], *, update: bool) -> DataSourcePayload:
    """Check presence and types of a register (``update=False``) or update body."""
    required = UPDATE_FIELDS if update else REGISTER_FIELDS
    missing = [name for name in required if body.get(name) is None]
    if missing:
        raise missing_fields(missing)

    problems: list[tuple[str, str]] = []
    for name in ("schemaId", "url", "audience", "subject", "nonce"):
        value = body[name]
        if not isinstance(value, str) or not value.strip():
            problems.append((name, "must be a non-empty string"))
    minutes, lifetime_problem = parse_lifetime(body["tokenLifetimeMinutes"])
    if lifetime_problem:
        problems.append(("tokenLifetimeMinutes", lifetime_problem))

    status = "active"
    error_message = body.get("errorMessage")
    if error_message is not None and not isinstance(error_message, str):
        problems.append(("errorMessage", "must be a string"))
        error_message = None
    if update:
        status = body["status"]
        if status not in STATUSES:
            problems.append(("status", "must be 'active' or 'disabled'"))
        elif status == "disabled" and not (error_message or "").strip():
            problems.append(("errorMessage", "is required (non-empty) when status is 'disabled'"))
    if isinstance(body.get("url"), str) and not any(name == "url" for name, _ in problems):
        url_problem = url_shape_problem(body["url"])
        if url_problem:
            problems.append(("url", url_problem))
    if problems:
        raise _field_error(problems)

    assert minutes is not None
    return DataSourcePayload(
        schema_id=body["schemaId"],
        url=body["url"],
        audience=body["audience"],
        subject=body["subject"],
        nonce=body["nonce"],
        token_lifetime_minutes=minutes,
        status=status,
        # Enabling clears the message; register never sets one (a new source is active).
        error_message=(error_message or "") if status == "disabled" else "",
    )


def url_host(url: str) -> str | None:
    """The lower-case DNS host of an acceptable https URL, else ``None``."""
    return None if url_shape_problem(url) else (urlsplit(url).hostname or "").lower()


def url_shape_problem(url: str) -> str | None:
    """Why ``url`` can never be a data source URL (scheme, userinfo, host shape), or ``None``."""
    if any(ch.isspace() for ch in url) or "\\" in url:
        return "must not contain whitespace or backslashes"
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError on a bad port
    except ValueError:
        return "is not a valid URL"
    if parts.scheme.lower() != "https":
        return "must use https"
    if "@" in parts.netloc:
        return "must not contain user information"
    host = (parts.hostname or "").lower()
    if not host:
        return "must have a host"
    if port == 0:
        return "has an invalid port"
    if host.startswith("[") or _is_ip(host):
        return "must use a domain name, not an IP address"
    labels = host.split(".")
    if len(labels) < 2 or not all(_LABEL_RE.match(label) for label in labels):
        return "must have a valid domain name host"
    return None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host.replace(".", "").isdigit()  # 127.1, 2130706433 and friends
    return True


def host_in_domains(host: str, domains: Iterable[str]) -> bool:
    """Whether ``host`` is one of ``domains`` or a subdomain of one (label boundary)."""
    for domain in domains:
        domain = domain.lower().strip()
        if domain and (host == domain or host.endswith("." + domain)):
            return True
    return False


def check_authorized(
    payload: DataSourcePayload, valid_domains: list[str], schema_ids: list[str]
) -> None:
    """The org-specific checks: schema and URL domain must be in the authorization snapshot."""
    problems: list[tuple[str, str]] = []
    if payload.schema_id not in schema_ids:
        problems.append(
            ("schemaId", f"schema {payload.schema_id} is not authorized for this organization")
        )
    host = url_host(payload.url)
    if host is None or not host_in_domains(host, valid_domains):
        problems.append(("url", f"host is not within the approved domains {sorted(valid_domains)}"))
    if problems:
        raise _field_error(problems)


def domain_problem(domain: Any) -> str | None:
    """Why ``domain`` cannot be an approved data exchange domain (control API), or ``None``."""
    if not isinstance(domain, str) or not domain:
        return "must be a non-empty string"
    if "*" in domain:
        return "wildcards are not allowed"
    labels = domain.lower().split(".")
    if len(labels) < 2 or not all(_LABEL_RE.match(label) for label in labels):
        return "must be a domain name such as example.com"
    return None
