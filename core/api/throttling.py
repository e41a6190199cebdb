"""Rate limits per API key (429 with Retry-After), counted in the cache."""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import ApiKey


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
