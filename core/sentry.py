"""Error reports to Sentry, when SENTRY_DSN is set, and the scrubber every report passes through.

`init_sentry` (called by settings) turns on the Django and Celery integrations, Celery beat
monitoring (a check-in per scheduled run, so a silent beat shows up as a missed check-in) and
no default PII. `scrub_event` is `before_send` (and `before_send_transaction`),
`scrub_breadcrumb` is `before_breadcrumb`: they walk the whole event and

- replace the value of every key whose name says it holds a secret (token, secret, password,
  authorization, cookie, jws, key, signature, credential), wherever it sits: request headers,
  cookies and data, frame locals, `extra`, contexts, breadcrumb data;
- mask credential-shaped text in every string left (`core.scrub`, strict: client secrets'
  64 hex digits too): exception messages, log messages, reprs of locals, URLs, bodies.

Sentry's own EventScrubber runs too, with the same names, as a second net. This module imports
`sentry_sdk` only inside `init_sentry`, so the scrubber is tested without it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from audit.redaction import is_secret_name

from .scrub import scrub_text

if TYPE_CHECKING:
    from sentry_sdk._types import Breadcrumb, Event

FILTERED = "[Filtered]"
# Broader than audit's names: an error report holds arbitrary locals and headers.
_SECRET_WORD = re.compile(
    r"token|secret|passw|authori[sz]ation|cookie|jws|key|signature|credential|csrf|session",
    re.IGNORECASE,
)
# Names that carry a secret word but describe one, kept so reports stay useful.
_DESCRIBES = re.compile(
    r"(_id|_ids|_at|_expires_at|_expires_in|_expiry|_count|_prefix|_type|_version|_kid|_hint|"
    r"_lifetime_minutes|_name|_url|_length)$|^(key_id|kid|monkey)$",
    re.IGNORECASE,
)
_SENTRY_DENYLIST = [
    "password",
    "passwd",
    "secret",
    "client_secret",
    "api_key",
    "apikey",
    "token",
    "access_token",
    "refresh_token",
    "jws",
    "jws_token",
    "jwsToken",
    "authorization",
    "proxy-authorization",
    "cookie",
    "set_cookie",
    "session",
    "sessionid",
    "csrftoken",
    "credentials",
    "private_key",
    "webhook_secret",
    "encryption_keys",
]


def is_secret_key(name: Any) -> bool:
    text = str(name)
    if is_secret_name(text):
        return True
    return bool(_SECRET_WORD.search(text)) and not _DESCRIBES.search(text)


def scrub(value: Any) -> Any:
    """A copy of `value` with secret-named values replaced and credential shapes masked."""
    if isinstance(value, Mapping):
        return {
            key: FILTERED if is_secret_key(key) and val not in (None, "") else scrub(val)
            for key, val in value.items()
        }
    if isinstance(value, list | tuple):
        # Sentry writes some header sets as [name, value] pairs.
        if len(value) == 2 and isinstance(value[0], str) and is_secret_key(value[0]):
            return [value[0], FILTERED]
        return [scrub(item) for item in value]
    if isinstance(value, str):
        return scrub_text(value, strict=True)
    return value


def scrub_event(event: Event, hint: Any = None) -> Event:
    """`before_send`: the whole event scrubbed (see the module docstring)."""
    return cast("Event", scrub(event))


def scrub_breadcrumb(crumb: Breadcrumb, hint: Any = None) -> Breadcrumb:
    """`before_breadcrumb`: log lines and HTTP calls recorded before an error, scrubbed."""
    return cast("Breadcrumb", scrub(crumb))


def init_sentry(
    *,
    dsn: str,
    environment: str = "",
    release: str = "",
    traces_sample_rate: float = 0.0,
    **options: Any,
) -> None:
    """Start reporting (settings call this when SENTRY_DSN is set). `options` are passed on
    to `sentry_sdk.init` (tests give a transport that keeps envelopes in memory)."""
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.scrubber import EventScrubber

    sentry_sdk.init(
        dsn=dsn,
        environment=environment or None,
        release=release or None,
        traces_sample_rate=traces_sample_rate,
        send_default_pii=False,  # no user names, addresses or cookies
        integrations=[DjangoIntegration(), CeleryIntegration(monitor_beat_tasks=True)],
        before_send=scrub_event,
        before_send_transaction=scrub_event,
        before_breadcrumb=scrub_breadcrumb,
        event_scrubber=EventScrubber(denylist=_SENTRY_DENYLIST, recursive=True),
        **options,
    )
