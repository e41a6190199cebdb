"""The emulator's clock: wall time plus an offset tests can move forward.

Everything that expires (access and refresh tokens, JWS ``iat``/``exp``, ``tokenExpiryTime``) and
every timestamp the emulator writes uses this clock, so ``POST /_emulator/clock`` can age a world
by days in a millisecond. Latency, fault delays and webhook retry back-off use real time: they are
about the network, not about token validity.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime


class Clock:
    """Wall clock shifted by ``offset`` seconds."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset

    def now(self) -> float:
        """Emulator time as a POSIX timestamp (float seconds)."""
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def iso(ts: float) -> str:
    """ISO 8601 UTC with milliseconds and ``Z``, as Webex writes: ``2024-09-05T01:35:04.772Z``."""
    moment = datetime.fromtimestamp(ts, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
