"""The rules a data source must meet before anything is sent to Webex.

One function, `validate_datasource`, used by the forms, the API and the services alike, so a
rule exists once. Every error names its field and the rule it broke.
"""

from __future__ import annotations

import ipaddress
import unicodedata
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from django.core.exceptions import ValidationError

from core.domains import host_in_domains, normalize_host

MAX_AUDIENCE = 200
MAX_SUBJECT = 200
MAX_URL = 2000
MIN_LIFETIME, MAX_LIFETIME = 1, 1440
LIFETIME = "token_lifetime_minutes"  # noqa: S105 - a field name, not a secret


@dataclass(frozen=True)
class DataSourceInput:
    schema_id: str
    url: str
    audience: str
    subject: str
    token_lifetime_minutes: int


def _idna_decode(ascii_host: str) -> str:
    try:
        return ascii_host.encode("ascii").decode("idna")
    except UnicodeError:
        return ""


def _fail(rule: str) -> ValidationError:
    return ValidationError({"url": rule})


def _check_characters(url: str) -> None:
    """Length and characters: nothing a person cannot see or Webex refuses."""
    if len(url) > MAX_URL:
        raise _fail(f"The URL is longer than {MAX_URL} characters.")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise _fail("The URL must not contain spaces or control characters.")
    if "\\" in url:
        raise _fail("The URL must not contain backslashes (Webex refuses them).")
    # Zero-width characters, direction overrides and byte-order marks (Unicode "format"
    # characters) are invisible on screen: a URL that reads as approved but is not.
    if any(unicodedata.category(ch) in {"Cf", "Cc", "Co", "Cs", "Cn"} for ch in url):
        raise _fail(
            "The URL must not contain invisible characters (zero-width spaces, direction "
            "marks or overrides)."
        )


def _check_shape(parts: SplitResult) -> int | None:
    """Scheme, credentials, fragment, host kind and port; returns the port."""
    if parts.scheme != "https":
        raise _fail("The URL must start with https:// (Webex only calls secure endpoints).")
    if "@" in parts.netloc:
        raise _fail("The URL must not contain a user name or password (no “user@” part).")
    if parts.fragment:
        raise _fail("The URL must not contain a #fragment.")
    host = parts.hostname or ""
    if "*" in host:
        raise _fail("Wildcards are not allowed in the URL's host.")
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        raise _fail("Use a host name inside the approved domains, not an IP address.")
    try:
        port = parts.port  # raises ValueError on a malformed port
    except ValueError:
        raise _fail("The URL's port must be a number from 1 to 65535.") from None
    if port == 0:
        raise _fail("The URL's port must be a number from 1 to 65535.")
    return port


def _check_host(host: str, domains: list[str]) -> str:
    """The host in the form Webex compares, inside one of the domains."""
    try:
        ascii_host = normalize_host(host)
    except ValueError:
        raise _fail("The URL's host is not a valid host name.") from None
    # IDNA quietly maps full-width letters and dots to ASCII ("ｂyods．example．com" becomes
    # "byods.example.com"), so what a person reads differs from what was checked: only hosts
    # already in their canonical form are accepted.
    if not host.isascii() and host.removesuffix(".").lower() != _idna_decode(ascii_host):
        raise _fail(
            "The URL's host contains look-alike characters (full-width letters or dots); "
            "type it in its plain form."
        )
    if not host_in_domains(ascii_host, domains):
        allowed = ", ".join(domains) or "none"
        raise _fail(
            f"The host {ascii_host} is not one of this org's authorized domains or their "
            f"subdomains ({allowed})."
        )
    return ascii_host


def check_url(url: str, domains: list[str]) -> str:
    """The URL as Webex will see it, or a ValidationError naming `url` and the rule.

    The host comes back in the one form Webex accepts, the form checked against the domains:
    lower case, IDNA-encoded (punycode), without a trailing dot. So `https://F.byods.example.com./x`
    is stored and sent as `https://f.byods.example.com/x`, and `bücher.byods.example.com` as
    `xn--bcher-kva.byods.example.com`; the rest of the URL is kept as typed."""
    url = (url or "").strip()
    if not url:
        raise _fail("Enter the data source URL.")
    _check_characters(url)
    parts = urlsplit(url)
    port = _check_shape(parts)
    ascii_host = _check_host(parts.hostname or "", domains)
    # Only the host changes: everything after it (port, path, query) is kept as typed.
    rest = url[url.index("//") + 2 + len(parts.netloc) :]
    normalized = f"https://{ascii_host}{f':{port}' if port is not None else ''}{rest}"
    if len(normalized) > MAX_URL:
        raise _fail(f"The URL, with its host in punycode, is longer than {MAX_URL} characters.")
    return normalized


def validate_datasource(
    *,
    schema_id: str,
    url: str,
    audience: str,
    subject: str,
    token_lifetime_minutes,
    allowed_schema_ids: list[str],
    allowed_domains: list[str],
) -> DataSourceInput:
    """Check every field against the org's authorization snapshot; collect all errors."""
    errors: dict[str, str] = {}
    schema_id = (schema_id or "").strip()
    if not schema_id:
        errors["schema_id"] = "Choose a schema."
    elif schema_id not in allowed_schema_ids:
        errors["schema_id"] = "This schema is not among those the org authorized for this app."
    try:
        url = check_url(url, allowed_domains)
    except ValidationError as exc:
        errors.update({k: v[0] for k, v in exc.message_dict.items()})
    for name, value, limit in (
        ("audience", audience, MAX_AUDIENCE),
        ("subject", subject, MAX_SUBJECT),
    ):
        text = (value or "").strip()
        if not text:
            errors[name] = f"Enter the {name}: the JWS carries it for your receiver to check."
        elif len(text) > limit:
            errors[name] = f"The {name} is longer than {limit} characters."
        elif any(ord(ch) < 32 for ch in text):
            errors[name] = f"The {name} must not contain control characters."
    lifetime = token_lifetime_minutes
    if isinstance(lifetime, bool) or not isinstance(lifetime, int | str):
        errors[LIFETIME] = "Enter a whole number of minutes from 1 to 1440."
    else:
        try:
            lifetime = int(str(lifetime).strip())
        except ValueError:
            errors[LIFETIME] = "Enter a whole number of minutes from 1 to 1440."
        else:
            if not MIN_LIFETIME <= lifetime <= MAX_LIFETIME:
                errors[LIFETIME] = "The token lifetime must be from 1 to 1440 minutes (24 hours)."
    if errors:
        raise ValidationError(errors)
    return DataSourceInput(
        schema_id=schema_id,
        url=url,
        audience=audience.strip(),
        subject=subject.strip(),
        token_lifetime_minutes=lifetime,
    )
