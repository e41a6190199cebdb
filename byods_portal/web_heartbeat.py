"""Web processes write a heartbeat too, so every process's key ring is known.

`rotate_encryption_keys` re-seals under the primary key only once every process seen lately
can decrypt with it; web processes are most of them. The beat comes from a request (a web
process has no timer thread), at most once per PORTAL_HEARTBEAT_SECONDS per process: one
UPSERT, so it costs nothing measurable. A failing database never fails the request.

A gunicorn worker that stops cleanly forgets its row (`forget_this_process`, called from
gunicorn.conf.py), so a rolling restart leaves no stale ring behind.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from stats.liveness import Role, heartbeat_forget, heartbeat_record

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_state: dict[str, dt.datetime | None] = {"started_at": None, "last_beat": None}


def process_name() -> str:
    return f"web@{socket.gethostname()}:{os.getpid()}"


def beat_if_due(now: dt.datetime | None = None) -> bool:
    """Record this web process's heartbeat if the last one is PORTAL_HEARTBEAT_SECONDS old."""
    now = now or timezone.now()
    interval = dt.timedelta(seconds=settings.PORTAL_HEARTBEAT_SECONDS)
    with _lock:
        last = _state["last_beat"]
        if last is not None and last <= now < last + interval:
            return False
        _state["last_beat"] = now
        started_at = _state["started_at"] = _state["started_at"] or now
    try:
        with transaction.atomic():
            heartbeat_record(
                role=Role.WEB, name=process_name(), pid=os.getpid(), started_at=started_at, now=now
            )
    except DatabaseError as exc:
        logger.warning("web heartbeat not recorded (%s)", type(exc).__name__)
        return False
    return True


def forget_this_process() -> None:
    try:
        heartbeat_forget(role=Role.WEB, name=process_name())
    except DatabaseError as exc:  # stopping anyway: the row ages out
        logger.warning("web heartbeat not removed (%s)", type(exc).__name__)


def reset() -> None:
    """Tests: forget the throttle."""
    with _lock:
        _state.update(started_at=None, last_beat=None)


class WebHeartbeatMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        if settings.PORTAL_WEB_HEARTBEAT:
            beat_if_due()
        return self.get_response(request)
