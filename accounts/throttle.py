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

import datetime as dt
import hashlib
import time

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
    if over_user and cache.add(_key("lock-user", username), _until(), timeout=_window()):
        started = "user"
    over_ip = bool(ip) and _bump("fail-ip", ip) >= settings.LOGIN_THROTTLE_IP_FAILURES
    if over_ip and cache.add(_key("lock-ip", ip), _until(), timeout=_window()):
        started = started or "ip"
    return started


def note_success(username: str) -> None:
    cache.delete(_key("fail-user", username))


def _until() -> float:
    """A lock's value is when it ends (a Unix time), so the staff list can say "Locked until"."""
    return time.time() + _window()


# --- second-factor codes: the same counters, per account, for codes after the password ---
def code_is_locked(username: str) -> bool:
    return bool(cache.get(_key("lock-code", username)))


def note_code_failure(username: str) -> bool:
    """Count one wrong second-factor code; True when this failure locked code entry."""
    if _bump("fail-code", username) >= settings.LOGIN_THROTTLE_FAILURES:
        return bool(cache.add(_key("lock-code", username), _until(), timeout=_window()))
    return False


def note_code_success(username: str) -> None:
    cache.delete(_key("fail-code", username))


def locked_until(username: str) -> dt.datetime | None:
    """When this account's sign-in (password or code) lock ends, or None when not locked."""
    ends = [cache.get(_key(kind, username)) for kind in ("lock-user", "lock-code")]
    ends = [e for e in ends if e]
    if not ends:
        return None
    # A lock set before locks carried their end time holds 1: count it as a full window.
    latest = max(e if e > 1 else time.time() + _window() for e in ends)
    return dt.datetime.fromtimestamp(latest, tz=dt.UTC)


def unlock(username: str) -> bool:
    """Lift an account's locks and forget its failures (an operator's unlock); True when there
    was a lock. The per-address lock is left alone: it protects against one address, not one
    account."""
    was_locked = locked_until(username) is not None
    cache.delete_many(
        [_key(kind, username) for kind in ("lock-user", "fail-user", "lock-code", "fail-code")]
    )
    return was_locked
