"""The single place that decides which values are secret and keeps them out of the trail.

A field is secret when its model declares it with an encrypted field class, or when its name
says it holds credential material (token, secret, password, jws, private key...). Audit
changes, log lines and exports pass through `redact`; `audit/tests/test_redaction.py` feeds
every model field of the project through `is_secret_field`.
"""

import re
from collections.abc import Mapping
from typing import Any

REDACTED = "[redacted]"

# Names that hold secrets wherever they appear (model fields, payload keys, API bodies).
_SECRET_NAME = re.compile(
    r"(^|_|-)(password|passwd|secret|token|jws|jwstoken|private_?key|api_?key|signature|"
    r"authorization|cookie|session_?key|session_?data|encryption_?keys?)($|_|-)"
    r"|accesstoken|refreshtoken|clientsecret|jwstoken|apikey",
    re.IGNORECASE,
)
# Names that contain a secret word but only describe one (times, counts, ids, prefixes).
_METADATA_SUFFIX = re.compile(
    r"(_expires_at|_expiry|_expiry_time|_expires_in|_at|_prefix|_id|_count|_version|_type|"
    r"_kid|_key_id|_lifetime_minutes|expirytime|lifetimeminutes|_hint)$",
    re.IGNORECASE,
)


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def is_secret_name(name: str) -> bool:
    name = _CAMEL.sub("_", name).lower()  # webhookSecret -> webhook_secret
    if _METADATA_SUFFIX.search(name):
        return False
    return bool(_SECRET_NAME.search(name))


def is_secret_field(field: Any) -> bool:
    """True for a model field whose value must never leave the database."""
    if getattr(field, "is_secret", False):  # encrypted fields declare themselves
        return True
    return is_secret_name(getattr(field, "name", "") or getattr(field, "attname", ""))


def redact(value: Any) -> Any:
    """A deep copy of `value` with every secret-named key's value replaced by a marker."""
    if isinstance(value, Mapping):
        return {
            key: (REDACTED if is_secret_name(str(key)) and val not in (None, "") else redact(val))
            for key, val in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value


def changes(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> dict:
    """`{"field": {"before": x, "after": y}}` for the keys that differ, secrets redacted.

    A changed secret shows as changed (both sides redacted), so reviewers see that a token was
    replaced without seeing either value.
    """
    before, after = dict(before or {}), dict(after or {})
    result = {}
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if is_secret_name(key):
            old = REDACTED if old not in (None, "") else old
            new = REDACTED if new not in (None, "") else new
        result[key] = {"before": redact(_plain(old)), "after": redact(_plain(new))}
    return result


def json_stable(value: Any) -> Any:
    """What the database will give back: JSON-native values only, floats as text (PostgreSQL
    rewrites some numbers, e.g. 1e20 and -0.0), so an event's hash survives the round trip."""
    if isinstance(value, Mapping):
        return {str(k): json_stable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_stable(v) for v in value]
    if isinstance(value, float):
        return repr(value)
    return _plain(value)


def _plain(value: Any) -> Any:
    """JSON-friendly rendering of datetimes, UUIDs and the like."""
    if value is None or isinstance(value, bool | int | float | str | list | dict):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
