"""Test overrides: production-like settings with fast hashing and no HTTPS redirect.

Secrets get throwaway values here only so the suite never needs a `.env`; the services
(PostgreSQL, Redis) come from DATABASE_URL / CELERY_BROKER_URL as chosen by `make test`.
"""

import hashlib
import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-" + "t" * 40)
os.environ.setdefault(
    "PORTAL_ENCRYPTION_KEYS", "test1:dGVzdC1vbmx5LWVuY3J5cHRpb24ta2V5LTAwMDAwMDA="
)
os.environ.setdefault("PORTAL_HTTPS", "false")
# No web heartbeat row per request in tests; the tests that need one turn it on.
os.environ.setdefault("PORTAL_WEB_HEARTBEAT", "false")
os.environ.setdefault("PORTAL_AGGREGATE_CACHE_SECONDS", "0")  # tests see every change at once
# Tests never read a developer's .env and always run with DEBUG off, as production does.
os.environ["PORTAL_READ_DOTENV"] = "false"
os.environ["DJANGO_DEBUG"] = "false"
# Tests never report to Sentry; core/tests/test_sentry.py starts it with a capturing transport.
os.environ["SENTRY_DSN"] = ""

from .settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# One test database per checkout, so two clones on one machine (a developer's tree and a CI
# check beside it) never drop each other's database mid-run.
_checkout = hashlib.sha256(str(BASE_DIR).encode()).hexdigest()[:8]  # noqa: F405
DATABASES["default"]["TEST"] = {  # noqa: F405
    "NAME": os.environ.get("PORTAL_TEST_DB_NAME") or f"test_byods_{_checkout}"
}
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
CELERY_BEAT_SCHEDULE = {}
# Per-process cache: throttle counters never outlive the test run (conftest clears it per test).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Serve static files through the finders: tests never run collectstatic.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
# Most tests rotate or refresh right after registering or onboarding and expect the call; the
# single-flight tests (datasources/tests/test_single_flight.py) set the production window.
SINGLE_FLIGHT_SECONDS = 0
# The suite creates and migrates its own database as DATABASE_URL's role: `migrate` must never
# switch to an owner URL from the environment (it names the real database, not the test one).
DATABASE_OWNER = None
