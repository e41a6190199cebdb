"""Liveness of the services the portal depends on, for /healthz and the dashboard."""

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.db.utils import Error as DatabaseError
from kombu import Connection
from kombu.exceptions import OperationalError as BrokerError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    ms: float

    def as_dict(self) -> dict:
        return {"ok": self.ok, "detail": self.detail, "ms": round(self.ms, 1)}


def check_database() -> Check:
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        logger.warning("health: database unreachable: %s", exc.__class__.__name__)
        return Check("database", False, f"unreachable ({exc.__class__.__name__})", _ms(started))
    return Check("database", True, connection.vendor, _ms(started))


def check_broker() -> Check:
    """Open (and close) a broker connection with a short timeout, without retrying for long."""
    started = time.monotonic()
    if settings.BROKER_IS_EMBEDDED:
        # The filesystem transport needs its folders; a missing or read-only one is "down".
        folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / ".healthz"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            detail = f"filesystem broker unusable ({exc.strerror})"
            return Check("broker", False, detail, _ms(started))
        return Check("broker", True, "filesystem (embedded)", _ms(started))
    try:
        with Connection(settings.CELERY_BROKER_URL, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
            transport = conn.transport_cls
    except (BrokerError, OSError) as exc:
        logger.warning("health: broker unreachable: %s", exc.__class__.__name__)
        return Check("broker", False, f"unreachable ({exc.__class__.__name__})", _ms(started))
    return Check("broker", True, str(transport), _ms(started))


def run_checks() -> list[Check]:
    return [check_database(), check_broker()]


def _ms(started: float) -> float:
    return (time.monotonic() - started) * 1000
