"""Who is acting and under which correlation id, for everything one request or task does.

The request middleware and the task helper bind these; `audit_record` reads them, so a service
deep in a call chain records the right actor and correlation id without passing them around.
Log lines read them too (`core.logs.ContextFilter`), with the org and data source a service is
working on (`log_scope`), so this module imports no model at import time: logging is
configured before Django's app registry is ready.
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Actor:
    type: str
    label: str
    id: str = ""

    @classmethod
    def user(cls, user) -> Actor:
        from .models import AuditEvent

        return cls(AuditEvent.ActorType.USER, user.get_username(), user.get_username())

    @classmethod
    def api(cls, key_prefix: str, key_id: str = "") -> Actor:
        from .models import AuditEvent

        return cls(AuditEvent.ActorType.API, f"api:{key_prefix}", key_id)

    @classmethod
    def system(cls, task_name: str) -> Actor:
        from .models import AuditEvent

        return cls(AuditEvent.ActorType.SYSTEM, f"system:{task_name}")


_actor: contextvars.ContextVar[Actor | None] = contextvars.ContextVar("audit_actor", default=None)
_correlation: contextvars.ContextVar[uuid.UUID | None] = contextvars.ContextVar(
    "audit_correlation", default=None
)


# What a service is working on, for log lines only (never secrets): org and data source ids.
_log_fields: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "log_fields", default=None
)


def current_actor() -> Actor | None:
    return _actor.get()


def bound_correlation() -> uuid.UUID | None:
    """The bound correlation id, or None outside any binding (unlike `correlation_id`)."""
    return _correlation.get()


def log_fields() -> dict[str, str]:
    """The ids bound by `log_scope` around the current code (empty outside any)."""
    return _log_fields.get() or {}


@contextmanager
def log_scope(**ids: Any) -> Iterator[None]:
    """Name what the block works on (`org_id=`, `datasource_id=`) in every log line it writes.
    Values are ids, rendered as text; None values are left out."""
    fields = {**log_fields(), **{k: str(v) for k, v in ids.items() if v is not None}}
    token = _log_fields.set(fields)
    try:
        yield
    finally:
        _log_fields.reset(token)


def correlation_id() -> uuid.UUID:
    """The bound correlation id, or a fresh one for a lone action outside any binding."""
    return _correlation.get() or uuid.uuid4()


@contextmanager
def bound(
    *, actor: Actor | None = None, correlation: uuid.UUID | None = None
) -> Iterator[uuid.UUID]:
    """Bind an actor and a correlation id (a new one unless given) for the block."""
    cid = correlation or _correlation.get() or uuid.uuid4()
    actor_token = _actor.set(actor if actor is not None else _actor.get())
    cid_token = _correlation.set(cid)
    try:
        yield cid
    finally:
        _actor.reset(actor_token)
        _correlation.reset(cid_token)


class AuditContextMiddleware:
    """Binds the signed-in user and a per-request correlation id (echoed as X-Correlation-ID)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        actor = Actor.user(user) if user is not None and user.is_authenticated else None
        with bound(actor=actor, correlation=uuid.uuid4()) as cid:
            request.correlation_id = cid
            response = self.get_response(request)
        response["X-Correlation-ID"] = str(cid)
        return response
