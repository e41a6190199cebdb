"""Webex identifiers: plain UUIDs / client ids and their base64 `ciscospark://` forms.

Webex's public ids are base64 of `ciscospark://<region>/<KIND>/<value>`. SDKs differ between
standard padded base64 and unpadded base64url, so decoding accepts both.
"""

import base64
import binascii
import uuid


def encode(kind: str, value: str, region: str = "us") -> str:
    """`encode("ORGANIZATION", "<uuid>")` -> standard base64 of the ciscospark URI."""
    return base64.b64encode(f"ciscospark://{region}/{kind}/{value}".encode()).decode()


def decode(webex_id: str) -> tuple[str, str, str]:
    """Return (region, kind, value) of a base64 id, padded or not, standard or url-safe.

    Raises ValueError for anything else.
    """
    text = webex_id.strip()
    padded = text + "=" * (-len(text) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        uri = raw.decode("ascii")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError(f"not a Webex id: {webex_id!r}") from exc
    prefix, _, rest = uri.partition("://")
    parts = rest.split("/")
    if prefix != "ciscospark" or len(parts) != 3 or not all(parts):
        raise ValueError(f"not a Webex id: {webex_id!r}")
    return parts[0], parts[1], parts[2]


def application_id(client_id: str) -> str:
    """The Service App's `applicationId`: base64 of `ciscospark://us/APPLICATION/<clientId>`."""
    return encode("APPLICATION", client_id)


def org_webex_id(org_uuid: str | uuid.UUID) -> str:
    """An org's base64 id from its UUID (what `targetOrgId` expects)."""
    return encode("ORGANIZATION", str(org_uuid))


def org_uuid(value: str) -> uuid.UUID:
    """An org's UUID from either its plain UUID or its base64 Webex id. Raises ValueError."""
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        pass
    _, kind, inner = decode(value)
    if kind != "ORGANIZATION":
        raise ValueError(f"not an organization id: {value!r}")
    return uuid.UUID(inner)
