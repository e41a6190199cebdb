"""Rate limits per API key (429 with Retry-After), counted in the cache."""

import logging

from django.conf import settings
from redis.exceptions import RedisError
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import ApiKey

logger = logging.getLogger(__name__)


class ApiKeyRateThrottle(SimpleRateThrottle):
    """`PORTAL_API_RATE` requests per key (e.g. "600/min"); session users are not limited here
    (they are people at a browser). Read at request time so tests and deploys can change it."""

    scope = "apikey"

    def get_rate(self) -> str:
        return settings.PORTAL_API_RATE

    def get_cache_key(self, request, view) -> str | None:
        if not isinstance(request.auth, ApiKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.public_id}

    def allow_request(self, request, view) -> bool:
        """When the cache cannot be reached (Redis restarting), the limit cannot be counted:
        the request goes through and the outage is logged, rather than every API call failing
        with a 500 while nothing else is wrong. (The soak showed it during a broker restart.)"""
        try:
            return super().allow_request(request, view)
        except (RedisError, OSError) as exc:
            logger.warning("api rate limit not counted: cache unavailable (%s)", type(exc).__name__)
            return True
