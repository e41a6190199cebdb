"""Identifiers the way Webex spells them.

Webex public ids are base64 of a ``ciscospark://<region>/<KIND>/<id>`` URI. Webex itself emits
standard base64 *without* padding (``Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi85NmFi...``); SDKs
differ in what they send back (padded, unpadded, standard or URL-safe alphabet), so decoding here
accepts all of those variants. Some APIs (the data sources) use the plain UUID or plain client id
instead; :func:`parse_org_id` accepts both forms.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import uuid

ORGANIZATION = "ORGANIZATION"
APPLICATION = "APPLICATION"
PEOPLE = "PEOPLE"
WEBHOOK = "WEBHOOK"

_URI_RE = re.compile(r"^ciscospark://(?P<region>[a-z0-9-]+)/(?P<kind>[A-Z_]+)/(?P<value>[^/\s]+)$")
_UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)

# A fixed namespace so derived ids (machine accounts, default admins) are stable across restarts.
_NAMESPACE = uuid.UUID("6f0c8a52-4d8e-4b5e-9d61-0b7f3c2a9e11")


def encode(kind: str, value: str, region: str = "us") -> str:
    """Webex public id of ``value``: unpadded standard base64 of the ``ciscospark://`` URI."""
    raw = f"ciscospark://{region}/{kind}/{value}".encode()
    return base64.b64encode(raw).decode("ascii").rstrip("=")


def decode(public_id: str, kind: str) -> str | None:
    """Return the value inside a Webex public id of ``kind``, or ``None`` if it is not one.

    Accepts standard and URL-safe alphabets, with or without padding, and any region.
    """
    text = public_id.strip()
    if not text or len(text) > 512:
        return None
    text = text.replace("-", "+").replace("_", "/").rstrip("=")
    text += "=" * (-len(text) % 4)
    try:
        raw = base64.b64decode(text, validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    match = _URI_RE.match(raw)
    if match is None or match.group("kind") != kind:
        return None
    return match.group("value")


def is_uuid(value: str) -> bool:
    """Whether ``value`` is a canonical textual UUID."""
    return bool(_UUID_RE.match(value))


def parse_org_id(value: str) -> str | None:
    """Plain (lower-case) org UUID from either the plain UUID or the base64 Webex org id."""
    if is_uuid(value):
        return value.lower()
    inner = decode(value, ORGANIZATION)
    if inner is not None and is_uuid(inner):
        return inner.lower()
    return None


def parse_application_id(value: str) -> str | None:
    """Client id inside an ``applicationId`` (standard base64 or unpadded base64url)."""
    return decode(value, APPLICATION)


def new_uuid() -> str:
    return str(uuid.uuid4())


def stable_uuid(*parts: str) -> str:
    """A UUID derived from ``parts``: the same inputs give the same id on every run."""
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join(parts)))


def new_client_id() -> str:
    """A Service App client id shaped like Webex's: ``C`` and 64 hex digits."""
    return "C" + secrets.token_hex(32)


def new_client_secret() -> str:
    return secrets.token_hex(32)


def new_tracking_id() -> str:
    return f"EMULATOR_{uuid.uuid4()}"


def new_bearer_token(org_id: str) -> str:
    """An opaque bearer token shaped like Webex's ``<random>_PF84_<orgId>``."""
    return f"{secrets.token_urlsafe(48)}_PF84_{org_id}"
