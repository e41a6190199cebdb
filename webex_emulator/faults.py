"""Fault injection and artificial latency for the Webex routes (``/v1`` and ``/idb`` only).

A fault rule matches a request by ``method`` (or any) and ``pathRegex`` (``re.search`` on the
path, or any path), fires with probability ``rate`` and at most ``times`` times (``null`` means
unlimited). Rules are tried in order; the first one that fires wins. Kinds:

* ``status``: answer ``status`` with the Webex error body; 429 and 423 carry ``Retry-After``
  (``retryAfter`` seconds, default 1), as Webex's throttling does;
* ``timeout``: hold the request for ``delaySeconds`` (default: the ``timeoutFaultSeconds`` setting,
  30 s), then answer ``status`` if one is given (e.g. 504), otherwise process the request normally:
  the client has usually given up by then, which is exactly the ambiguous outcome to test (the
  body is read before the hold, so the change is made even though nobody hears the answer);
* ``reset``: drop the TCP connection without any response (a client sees a connection error).

Latency (``PUT /_emulator/latency``) is ``ms`` plus a uniform jitter of +/- ``jitterMs``, slept
with ``asyncio.sleep`` so hundreds of delayed requests wait concurrently.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any

from .errors import WebexError

KINDS = ("status", "timeout", "reset")
DEFAULT_RETRY_AFTER = 1


@dataclass
class FaultRule:
    kind: str
    method: str | None = None
    path_regex: str | None = None
    status: int | None = None
    retry_after: int | None = None
    rate: float = 1.0
    times: int | None = None
    delay_seconds: float | None = None
    message: str | None = None
    hits: int = 0
    _pattern: re.Pattern[str] | None = field(default=None, repr=False, compare=False)

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method not in ("*", method.upper()):
            return False
        if self._pattern is not None and not self._pattern.search(path):
            return False
        return self.times is None or self.hits < self.times

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "method": self.method,
            "pathRegex": self.path_regex,
            "status": self.status,
            "retryAfter": self.retry_after,
            "rate": self.rate,
            "times": self.times,
            "delaySeconds": self.delay_seconds,
            "message": self.message,
            "hits": self.hits,
        }

    @classmethod
    def from_json(cls, index: int, raw: Any) -> FaultRule:
        """Build a rule from the control API's JSON, raising a 400 on any bad value."""
        where = f"rules[{index}]"
        if not isinstance(raw, dict):
            raise WebexError(400, f"{where} must be an object")
        kind = raw.get("kind", "status")
        if kind not in KINDS:
            raise WebexError(400, f"{where}.kind must be one of {', '.join(KINDS)}")
        method = raw.get("method")
        if method is not None and not isinstance(method, str):
            raise WebexError(400, f"{where}.method must be a string")
        path_regex = raw.get("pathRegex")
        pattern = None
        if path_regex is not None:
            try:
                pattern = re.compile(str(path_regex))
            except re.error as exc:
                raise WebexError(400, f"{where}.pathRegex is not a valid regex: {exc}") from exc
        status = _optional_int(raw, "status", where)
        if kind == "status" and status is None:
            status = 500
        if status is not None and not 400 <= status <= 599:
            raise WebexError(400, f"{where}.status must be an HTTP error status (400-599)")
        retry_after = _optional_int(raw, "retryAfter", where)
        if retry_after is None and status in (423, 429):
            retry_after = DEFAULT_RETRY_AFTER
        rate = raw.get("rate", 1.0)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise WebexError(400, f"{where}.rate must be a number from 0 to 1")
        times = _optional_int(raw, "times", where)
        if times is not None and times < 0:
            raise WebexError(400, f"{where}.times must be >= 0 or null")
        delay = raw.get("delaySeconds")
        if delay is not None and (
            isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0
        ):
            raise WebexError(400, f"{where}.delaySeconds must be a non-negative number")
        message = raw.get("message")
        return cls(
            kind=kind,
            method=method.upper() if method else None,
            path_regex=None if path_regex is None else str(path_regex),
            status=status,
            retry_after=retry_after,
            rate=float(rate),
            times=times,
            delay_seconds=None if delay is None else float(delay),
            message=None if message is None else str(message),
            _pattern=pattern,
        )


def _optional_int(raw: dict[str, Any], name: str, where: str) -> int | None:
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise WebexError(400, f"{where}.{name} must be an integer")
    return value


class FaultInjector:
    """The active fault rules and the random source deciding ``rate``."""

    def __init__(self) -> None:
        self.rules: list[FaultRule] = []
        self.rng = random.Random()

    def set_rules(self, rules: list[FaultRule], seed: int | None = None) -> None:
        self.rules = rules
        self.rng = random.Random(seed)

    def clear(self) -> None:
        self.rules = []

    def pick(self, method: str, path: str) -> FaultRule | None:
        """The rule that fires for this request, if any (and count the hit)."""
        for rule in self.rules:
            if rule.matches(method, path) and (rule.rate >= 1 or self.rng.random() < rule.rate):
                rule.hits += 1
                return rule
        return None

    def to_json(self) -> dict[str, Any]:
        return {"rules": [rule.to_json() for rule in self.rules]}


@dataclass
class Latency:
    ms: float = 0.0
    jitter_ms: float = 0.0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def delay_seconds(self) -> float:
        if self.ms <= 0 and self.jitter_ms <= 0:
            return 0.0
        jitter = self.rng.uniform(-self.jitter_ms, self.jitter_ms) if self.jitter_ms > 0 else 0.0
        return max(0.0, self.ms + jitter) / 1000.0

    def to_json(self) -> dict[str, float]:
        return {"ms": self.ms, "jitterMs": self.jitter_ms}
