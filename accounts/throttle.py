"""Sign-in throttling: after repeated failures, stop checking passwords for a while.

Counters live in Django's cache (Redis in production, so every web process shares them; the
process's memory on the embedded `make run` stack, which is one process). Two keys count
failures inside a sliding window:

* per login name: `LOGIN_THROTTLE_FAILURES` failures lock that account's sign-in for
  `LOGIN_THROTTLE_MINUTES`, from any address (a password-guessing run on one account);
* per client address: `LOGIN_THROTTLE_IP_FAILURES` failures lock sign-ins from that address
  (one address spraying many accounts).

While locked, the backend refuses before the password is checked, so a correct guess inside
the lock gains nothing and the timing says nothing. A successful sign-in clears the name's
counter. Why not django-axes: it adds models, middleware and its own admin for what is two
cache counters here, and the audit trail already records every refused sign-in.
"""

import hashlib

from django.conf import settings
from django.core.cache import cache


def _key(kind: str, value: str) -> str:
    # Hash so that arbitrary user input never becomes part of a cache key verbatim.
    digest = hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]
    return f"signin-throttle:{kind}:{digest}"


def _window() -> int:
    return int(settings.LOGIN_THROTTLE_MINUTES * 60)


def client_ip(request) -> str:
    """The caller's address. Behind the trusted proxy (PORTAL_BEHIND_PROXY, which sets
    SECURE_PROXY_SSL_HEADER) REMOTE_ADDR is the proxy itself, so the last X-Forwarded-For
    entry, the one our proxy appended, is used; earlier entries are client-supplied and could
    be forged to dodge the per-address limit."""
    if request is None:
        return ""
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        last = forwarded.split(",")[-1].strip()
        if last:
            return last[:64]
    return str(request.META.get("REMOTE_ADDR", ""))


def is_locked(username: str, ip: str) -> bool:
    if cache.get(_key("lock-user", username)):
        return True
    return bool(ip) and bool(cache.get(_key("lock-ip", ip)))


def _bump(kind: str, value: str) -> int:
    key = _key(kind, value)
    cache.add(key, 0, timeout=_window())
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=_window())
        return 1


def note_failure(username: str, ip: str) -> str | None:
    """Count one failed sign-in; returns "user" or "ip" when this failure started a lock."""
    started = None
    over_user = bool(username) and _bump("fail-user", username) >= settings.LOGIN_THROTTLE_FAILURES
    if over_user and cache.add(_key("lock-user", username), 1, timeout=_window()):
        started = "user"
    over_ip = bool(ip) and _bump("fail-ip", ip) >= settings.LOGIN_THROTTLE_IP_FAILURES
    if over_ip and cache.add(_key("lock-ip", ip), 1, timeout=_window()):
        started = started or "ip"
    return started


def note_success(username: str) -> None:
    cache.delete(_key("fail-user", username))
