"""Logging filters: what every log line carries, and what none may carry.

`settings.LOGGING` puts both on the console handler (handler filters see the records of every
logger, including those that propagate from children):

- `ContextFilter` adds the correlation id bound for the request or task (`audit.context`) and
  the org / data source ids a service named with `log_scope`, unless the call passed them in
  `extra`. The JSON formatter writes them as fields; the text format shows the correlation id.
- `RefusalFilter` (on the `django.request` logger only) keeps a refused request (4xx) to one
  line: Django passes the PermissionDenied / Http404 along, which would print a traceback.
- `RedactingFilter` (with `JsonFormatter` for tracebacks) is the safety net: it masks bearer
  tokens, `Authorization:` values and other credential shapes (`core.scrub`) in the message,
  in the traceback and in `extra` values, and blanks `extra` fields whose name says they hold
  a secret.

Neither imports a model: logging is configured before Django's app registry is ready.
"""

from __future__ import annotations

import logging
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

from audit.context import bound_correlation, log_fields
from audit.redaction import REDACTED, is_secret_name, redact

from .scrub import scrub_text

# What every LogRecord has; anything else on a record came from `extra` (or a filter).
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
}
_CONTEXT = frozenset({"correlation_id", "org_id", "datasource_id"})


class ContextFilter(logging.Filter):
    """Adds `correlation_id` (always; `missing` outside any binding) and the `log_scope` ids."""

    def __init__(self, name: str = "", missing: str | None = None) -> None:
        super().__init__(name)
        self.missing = missing

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "correlation_id", None) is None:
            cid = bound_correlation()
            record.correlation_id = str(cid) if cid is not None else self.missing
        for key, value in log_fields().items():
            if getattr(record, key, None) is None:
                setattr(record, key, value)
        return True


class RefusalFilter(logging.Filter):
    """One line, no traceback, for a request the portal refused (a 4xx: 403, 404, 400).

    Django logs "Forbidden (Permission denied): /path" and "Not Found: /path" with the
    exception that made them, so every refused request printed a traceback as if it were a
    crash. On the `django.request` logger (a logger filter, so every handler and tests'
    caplog see the same record) the exception is dropped below 500; a 500 keeps it."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and status < 500:
            record.exc_info = None
            record.exc_text = None
        return True


class RedactingFilter(logging.Filter):
    """Masks credential-shaped text in the message, the traceback and `extra` values."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not isinstance(record.msg, dict):  # a dict message is the JSON formatter's own form
            message = record.getMessage()
            record.msg, record.args = scrub_text(message), None
        if record.exc_info and not record.exc_text:
            # Rendered here, scrubbed, for formatters that print exc_text (logging's own). The
            # record keeps exc_info for other handlers (tests' caplog, Sentry); JsonFormatter
            # below scrubs what it renders from it.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub_text(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub_text(record.stack_info)
        for key in [k for k in vars(record) if k not in _STANDARD and k not in _CONTEXT]:
            setattr(record, key, _clean(key, getattr(record, key)))
        return True


class JsonFormatter(_JsonFormatter):
    """python-json-logger's formatter, whose tracebacks pass through the redaction too (it
    renders them from exc_info, not from the exc_text RedactingFilter scrubbed)."""

    # python-json-logger widens the return type (a list with exc_info_as_array).
    def formatException(self, ei) -> str | list[str]:  # type: ignore[override]  # noqa: N802
        text = super().formatException(ei)
        return scrub_text(text) if isinstance(text, str) else [scrub_text(t) for t in text]


def _clean(key: str, value: Any) -> Any:
    if is_secret_name(key) and value not in (None, ""):
        return REDACTED
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict | list | tuple):
        return _scrub_strings(redact(value))
    return scrub_text(str(value))


def _scrub_strings(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {k: _scrub_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_strings(v) for v in value]
    return value
