"""Masking credentials inside free text: the safety net under logs and error reports.

Secrets are kept out of messages by construction (the Webex client never logs a token, audit
changes go through `audit.redaction`). This module catches what slips through anyway: a token
pasted into an exception message, an `Authorization:` header in a repr, a query string with a
refresh token. It knows the shapes of the credentials the portal handles:

- `Authorization: <scheme> <value>` and `Bearer <value>` wherever they appear;
- `name=value` / `"name": "value"` pairs whose name is a credential (access_token, secret...);
- Webex access and refresh tokens (`<random>_<4 chars>_<org uuid>`, e.g. `..._PF84_<uuid>`);
- JWS / JWT (`eyJ<header>.<claims>.<signature>`), the portal's API keys (`byods_<id>_<secret>`).

`strict=True` also masks 64-character hex strings (Service App client secrets). Logs leave them
alone: the daily audit chain head is a SHA-256 in hex, and it is logged on purpose.

Pure Python and no Django: importable from settings and from logging configuration.
"""

from __future__ import annotations

import re

MASK = "[redacted]"

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_CREDENTIAL_NAME = (
    r"access_?token|refresh_?token|id_?token|client_?secret|webhook_?secret|jws_?token|"
    r"api_?key|password|passwd|secret|token"
)

# Order matters: the header forms first, so "Authorization: Bearer x" is masked as a whole.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization: Bearer abc / "Authorization": "Basic abc" / authorization=abc
    (
        re.compile(
            r"""(?i)(\bauthorization["']?\s*[:=]\s*["']?)"""
            r"""(?:(?:bearer|basic|token|digest)\s+)?[^\s"',;}]+"""
        ),
        rf"\g<1>{MASK}",
    ),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{6,}"), rf"\g<1> {MASK}"),
    # access_token=abc, "client_secret": "abc", refresh_token: abc
    (
        re.compile(
            rf"""(?i)(["']?\b(?:{_CREDENTIAL_NAME})["']?\s*[:=]\s*["']?)"""
            r"""(?!\[redacted\])[^\s"'&,;}]+"""
        ),
        rf"\g<1>{MASK}",
    ),
    # Webex tokens: a random part, a 4-character cluster tag, the org's uuid.
    (re.compile(rf"\b[A-Za-z0-9_-]{{16,}}_[A-Za-z0-9]{{4}}_{_UUID}\b"), MASK),
    # JWS / JWT: base64url header starting with {" (eyJ), claims, signature.
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), MASK),
    # The portal's API keys.
    (re.compile(r"\bbyods_[0-9a-f]{8}_[A-Za-z0-9_-]{16,}"), MASK),
)
_HEX_SECRET = re.compile(r"(?<![0-9A-Za-z])[0-9a-fA-F]{64}(?![0-9A-Za-z])")


def scrub_text(text: str, *, strict: bool = False) -> str:
    """`text` with every credential-shaped part replaced by `[redacted]`."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    if strict:
        text = _HEX_SECRET.sub(MASK, text)
    return text
