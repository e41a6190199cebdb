"""Short-lived caching of fleet-wide figures shared by several pages."""

from django.conf import settings
from django.core.cache import cache


def cached_aggregate(key: str, compute):
    """A fleet-wide aggregate (health counts, the expiry histogram, orgs by status), computed
    at most once per PORTAL_AGGREGATE_CACHE_SECONDS per cache. These scan every live data
    source or org; lists and alerts stay live. 0 turns the cache off (the tests run so)."""
    seconds = settings.PORTAL_AGGREGATE_CACHE_SECONDS
    if seconds <= 0:
        return compute()
    return cache.get_or_set(f"portal:aggregate:{key}", compute, seconds)
