"""What a verification decides: the stable refusal codes, the refusal, the verified result, and
the Cisco claim names a token carries."""

from __future__ import annotations

import enum
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

CLAIM_URL = "com.cisco.datasource.url"
CLAIM_SCHEMA = "com.cisco.datasource.schema.uuid"
CLAIM_ORG = "com.cisco.org.uuid"
MAX_TOKEN_LENGTH = 16 * 1024
# The signature may be empty so that an `alg: none` token gets its precise refusal.
_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


class Code(enum.StrEnum):
    """Why a token was refused. Stable: receivers in other languages switch on these."""

    MALFORMED = "malformed"
    ALGORITHM_NOT_ALLOWED = "algorithm_not_allowed"
    ISSUER_NOT_ALLOWED = "issuer_not_allowed"
    UNKNOWN_KEY = "unknown_key"
    KEYS_UNAVAILABLE = "keys_unavailable"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    MISSING_CLAIM = "missing_claim"
    UNKNOWN_DATASOURCE = "unknown_datasource"
    AUDIENCE_MISMATCH = "audience_mismatch"
    SUBJECT_MISMATCH = "subject_mismatch"
    DATASOURCE_DISABLED = "datasource_disabled"
    ORG_DEAUTHORIZED = "org_deauthorized"
    ORG_OFFBOARDED = "org_offboarded"
    STALE_NONCE = "stale_nonce"


class Refusal(Exception):  # noqa: N818 - a decision, not an error of ours
    """The token is refused; `code` is a `Code`, `message` says why for a human (no secrets)."""

    def __init__(self, code: Code, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


@dataclass(frozen=True)
class Verified:
    """An accepted token: whose it is, and its claims (the token itself is not kept)."""

    org_public_id: uuid.UUID
    org_name: str
    org_webex_id: uuid.UUID
    datasource_public_id: uuid.UUID
    datasource_url: str
    schema_id: str
    nonce: str  # "current", "pending" or "previous": which of the data source's nonces matched
    kid: str
    claims: dict[str, Any] = field(repr=False)

    def as_json(self) -> dict[str, Any]:
        return {
            "org": {
                "id": str(self.org_public_id),
                "webexId": str(self.org_webex_id),
                "name": self.org_name,
            },
            "dataSource": {
                "id": str(self.datasource_public_id),
                "url": self.datasource_url,
                "schemaId": self.schema_id,
            },
            "nonce": self.nonce,
            "kid": self.kid,
            "claims": self.claims,
        }
