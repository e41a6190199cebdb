"""Settings for the BYODS portal, read from the environment.

Every value that differs between a laptop, CI and production comes from an environment
variable (see `.env.example`). Without any variable set the portal runs on embedded defaults:
a SQLite file and a filesystem Celery broker under `var/`, and the Webex emulator on
127.0.0.1:8900. With `DJANGO_DEBUG` off, missing secrets fail loudly instead of falling back.
"""

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import environ
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("PORTAL_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
# `make run` writes a .env with random development secrets; tests opt out of reading it.
env_file = BASE_DIR / ".env"
if env_file.exists() and env.bool("PORTAL_READ_DOTENV", default=True):
    env.read_env(env_file)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# The local demo of `make run` (written by scripts/dev_env.py, with DEBUG off as in
# production): only then may the seed commands create the demo operator and mirror the
# emulator's demo world. Never set it on a real portal.
PORTAL_LOCAL_DEMO = env.bool("PORTAL_LOCAL_DEMO", default=False)


def _required_secret(name: str, dev_default: str) -> str:
    """A secret that may fall back to a development value only while DEBUG is on."""
    value = env.str(name, default="")
    if value:
        return value
    if DEBUG:
        return dev_default
    raise ImproperlyConfigured(f"{name} must be set when DJANGO_DEBUG is off (see .env.example).")


# Development fallbacks are deliberately recognisable so they can never pass for real keys.
SECRET_KEY = _required_secret("DJANGO_SECRET_KEY", "dev-insecure-" + "x" * 50)
# Comma-separated Fernet keys, each "key-id:base64key"; all decrypt.
PORTAL_ENCRYPTION_KEYS = _required_secret(
    "PORTAL_ENCRYPTION_KEYS", "dev:ZGV2LWluc2VjdXJlLWtleS1kby1ub3QtdXNlLTAwMDA="
)
# The key id that encrypts (default: the first listed); the others only decrypt. Staged
# rotation (SECURITY.md): list the new key as decrypt-only everywhere, then make it primary.
PORTAL_ENCRYPTION_PRIMARY = env.str("PORTAL_ENCRYPTION_PRIMARY", default="")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc assets, served locally (no CDN)
    "csp",
    # The second factor (accounts/mfa.py): TOTP apps and one-time recovery codes.
    "django_otp",
    "django_otp.plugins.otp_static",
    "core",
    "accounts",
    "audit",
    "tenants",
    "datasources",
    "operations",
    "stats",
    "alerts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    # API bodies over DATA_UPLOAD_MAX_MEMORY_SIZE: 413 in the API's format, before any read.
    "core.api.middleware.ApiBodyLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): second factor given
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    # A signed-in session without its second factor reaches only the second-factor pages.
    "accounts.middleware.SecondFactorMiddleware",
    "audit.context.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "byods_portal.web_heartbeat.WebHeartbeatMiddleware",
]

# Content-Security-Policy on every response (pages, API, admin): scripts, styles, images, fonts
# and connections from the portal itself only; no plugins, no framing, forms post only here.
# Templates hold no inline code. NONCE adds a per-request nonce only to a response that used
# `request.csp_nonce`: just the ReDoc page, whose styled-components inject <style> elements.
# `data:` images: Bootstrap's and Swagger UI's inline SVG icons.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

ROOT_URLCONF = "byods_portal.urls"
WSGI_APPLICATION = "byods_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.navigation",
            ],
            # `{% load portal %}`: the project's own template helpers (e.g. `{% when dt %}`)
            "libraries": {"portal": "core.templatetags.portal"},
        },
    },
]

# --- Database: PostgreSQL when DATABASE_URL is set, else a SQLite file under var/ ---------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'portal.sqlite3'}")
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (web, worker, beat) share the file: wait for locks instead of failing.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
# The role that owns the tables (README, "The two database roles"): when set, `migrate` and
# `grant_runtime_role` connect as it, while DATABASE_URL is the runtime role the portal runs as.
# Parsed like DATABASE_URL; a dict, so Django's error pages mask its PASSWORD.
DATABASE_OWNER: dict[str, Any] | None = (
    env.db_url("DATABASE_OWNER_URL") if env.str("DATABASE_OWNER_URL", default="") else None
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Audit checkpoints: the chain head, signed, kept outside the database (audit/checkpoints.py)
# The HMAC-SHA256 key: from the environment only, never stored in the database or logged.
PORTAL_AUDIT_CHECKPOINT_KEY = env.str("PORTAL_AUDIT_CHECKPOINT_KEY", default="")
# Where each checkpoint goes: appended as a JSON line to a file, and/or POSTed to a URL.
PORTAL_AUDIT_CHECKPOINT_PATH = env.str("PORTAL_AUDIT_CHECKPOINT_PATH", default="")
PORTAL_AUDIT_CHECKPOINT_WEBHOOK = env.str("PORTAL_AUDIT_CHECKPOINT_WEBHOOK", default="")
PORTAL_AUDIT_CHECKPOINT_TIMEOUT = env.float("PORTAL_AUDIT_CHECKPOINT_TIMEOUT", default=10.0)
PORTAL_AUDIT_CHECKPOINT_MINUTES = env.float("PORTAL_AUDIT_CHECKPOINT_MINUTES", default=15.0)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Password sign-in (behind the throttle; first, so `force_login` and `createsuperuser` use it)
# and single sign-on (accounts/sso.py: answers only the OpenID Connect callback, and only
# while PORTAL_OIDC_ISSUER is set).
AUTHENTICATION_BACKENDS = [
    "accounts.backends.ThrottledModelBackend",
    "accounts.sso.PortalOIDCBackend",
]
# Sign-in throttle (accounts/throttle.py): failures per login name / per client address within
# the window that lock sign-in for the window.
LOGIN_THROTTLE_FAILURES = env.int("LOGIN_THROTTLE_FAILURES", default=5)
LOGIN_THROTTLE_IP_FAILURES = env.int("LOGIN_THROTTLE_IP_FAILURES", default=20)
LOGIN_THROTTLE_MINUTES = env.int("LOGIN_THROTTLE_MINUTES", default=15)
# Second factor (accounts/mfa.py): the staff roles that must enrol one (comma-separated; empty
# for none). Anyone who has enrolled one is asked for it whatever their role.
PORTAL_MFA_REQUIRED_ROLES = env.list("PORTAL_MFA_REQUIRED_ROLES", default=["operator"])
OTP_TOTP_ISSUER = "BYODS portal"
# django-otp's own per-device back-off (1 s, 2 s, 4 s... after a wrong code) is off: wrong codes
# count in the portal's sign-in throttle instead (accounts/throttle.py), which locks and audits.
# The TOTP device is the portal's own accounts.AuthenticatorApp (its secret sealed at rest).
OTP_STATIC_THROTTLE_FACTOR = 0
# Hours an invitation link (staff management) stays usable.
PORTAL_INVITE_HOURS = env.int("PORTAL_INVITE_HOURS", default=72)
# The throttle counts in the cache (CACHES, below with the API's rate limits).
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# --- Single sign-on with OpenID Connect (accounts/sso.py; README "Single sign-on") ----------
# Off while PORTAL_OIDC_ISSUER is unset. The endpoints come from the issuer's
# /.well-known/openid-configuration, fetched at the first sign-in and cached.
PORTAL_OIDC_ISSUER = env.str("PORTAL_OIDC_ISSUER", default="").rstrip("/")
SSO_ENABLED = bool(PORTAL_OIDC_ISSUER)
OIDC_RP_CLIENT_ID = env.str("PORTAL_OIDC_CLIENT_ID", default="")
OIDC_RP_CLIENT_SECRET = env.str("PORTAL_OIDC_CLIENT_SECRET", default="")
# The claim (in the ID token or userinfo) that lists the person's IdP groups.
PORTAL_OIDC_GROUPS_CLAIM = env.str("PORTAL_OIDC_GROUPS_CLAIM", default="groups")
# "idp-group=role,...": who gets which portal role; several mapped groups: the strongest role.
PORTAL_OIDC_ROLE_MAP = env.str("PORTAL_OIDC_ROLE_MAP", default="")
OIDC_RP_SCOPES = env.str("PORTAL_OIDC_SCOPES", default="openid email profile")
# E-mail and password sign-in; may be switched off only while single sign-on is on.
PORTAL_PASSWORD_SIGNIN = env.bool("PORTAL_PASSWORD_SIGNIN", default=True)
if SSO_ENABLED:
    _missing = [
        name
        for name, value in (
            ("PORTAL_OIDC_CLIENT_ID", OIDC_RP_CLIENT_ID),
            ("PORTAL_OIDC_CLIENT_SECRET", OIDC_RP_CLIENT_SECRET),
            ("PORTAL_OIDC_ROLE_MAP", PORTAL_OIDC_ROLE_MAP),
        )
        if not value
    ]
    if _missing:
        raise ImproperlyConfigured(
            f"PORTAL_OIDC_ISSUER is set, so {', '.join(_missing)} must be set too "
            "(see .env.example)."
        )
elif not PORTAL_PASSWORD_SIGNIN:
    raise ImproperlyConfigured(
        "PORTAL_PASSWORD_SIGNIN=false needs single sign-on (PORTAL_OIDC_ISSUER): otherwise "
        "nobody could sign in."
    )
# mozilla-django-oidc's own settings; the endpoints are resolved from discovery (accounts/sso.py).
OIDC_RP_SIGN_ALGO = "RS256"
OIDC_USE_PKCE = True
OIDC_TIMEOUT = (5, 20)  # connect, read: every call to the IdP has a timeout
OIDC_AUTHENTICATION_CALLBACK_URL = "sso_callback"
OIDC_CALLBACK_CLASS = "accounts.views_sso.SsoCallbackView"
OIDC_AUTHENTICATE_CLASS = "accounts.views_sso.SsoStartView"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("PORTAL_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Security: strict by default, relaxed only for plain-HTTP local development ------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)  # one shift
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
_https = env.bool("PORTAL_HTTPS", default=not DEBUG)
SESSION_COOKIE_SECURE = _https
CSRF_COOKIE_SECURE = _https
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=_https)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if _https else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _https
SECURE_HSTS_PRELOAD = _https
if env.bool("PORTAL_BEHIND_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# /healthz and /metrics are polled by load balancers and Prometheus over plain HTTP inside the
# cluster.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]

# --- Celery: Redis when CELERY_BROKER_URL is set, else a filesystem broker under var/ ------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
BROKER_IS_EMBEDDED = CELERY_BROKER_URL.startswith("filesystem://")
if BROKER_IS_EMBEDDED:
    _broker_dir = VAR_DIR / "broker"
    # Kombu's transport options: keyword arguments of several types, as kombu types them.
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),  # worker remote-control (pidbox)
        "store_processed": False,
    }
    CELERY_RESULT_BACKEND = env.str(
        "CELERY_RESULT_BACKEND", default=f"file://{VAR_DIR / 'results'}"
    )
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
    CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL)
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_IGNORE_RESULT = True  # tasks that report progress write it to the database
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=240)
CELERY_TASK_ACKS_LATE = True  # our tasks are idempotent: a lost worker's task runs again
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict = {
    "heartbeat": {
        "task": "byods_portal.heartbeat",
        "schedule": env.float("CELERY_HEARTBEAT_SECONDS", default=60.0),
    },
    "audit-chain-head-daily": {"task": "audit.log_chain_head", "schedule": 24 * 3600.0},
    "audit-checkpoint": {
        "task": "audit.write_checkpoint",
        "schedule": PORTAL_AUDIT_CHECKPOINT_MINUTES * 60,
    },
    "org-token-refresh-sweep": {"task": "tenants.refresh_sweep", "schedule": 60.0},
    "reconcile-authorizations": {"task": "tenants.reconcile_authorizations", "schedule": 3600.0},
    "integration-token-refresh": {"task": "tenants.refresh_integration_tokens", "schedule": 3600.0},
    # Data sources fall due at 50-70 % of their lifetime: a 2-minute token (the soak test's) is
    # due with at least 36 s left, two sweeps at the default 15 s (the soak uses 5 s).
    "rotation-sweep": {
        "task": "datasources.rotation_sweep",
        "schedule": env.float("ROTATION_SWEEP_SECONDS", default=15.0),
    },
    "maintenance-windows": {"task": "datasources.apply_maintenance", "schedule": 60.0},
    "reconcile-datasources": {"task": "datasources.reconcile_all", "schedule": 3600.0},
    "bulk-resume-stalled": {"task": "operations.resume_stalled", "schedule": 60.0},
    "offboarding-sweep": {"task": "operations.offboarding_sweep", "schedule": 60.0},
    "alerts-evaluate": {"task": "alerts.evaluate", "schedule": 60.0},
    "stats-fold-rotation-hours": {"task": "stats.fold_rotation_hours", "schedule": 24 * 3600.0},
}

# --- Cache: Redis when REDIS_URL is set (shared by all web processes), else local memory -----
# The API's per-key rate limits and the sign-in throttle count here.
_redis_url = env.str("REDIS_URL", default="")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _redis_url}
        if _redis_url
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# --- REST API (/api/v1/): API keys or the session, one error format, per-key rate limit -----
PORTAL_API_RATE = env.str("PORTAL_API_RATE", default="600/min")
# Receivers verify the JWS of every connection Webex opens: a separate, higher budget.
PORTAL_JWS_VERIFY_RATE = env.str("PORTAL_JWS_VERIFY_RATE", default="6000/min")
REST_FRAMEWORK = {
    # The key comes first so an unauthenticated request gets 401 with WWW-Authenticate.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["core.api.permissions.HasPortalPerm"],
    "DEFAULT_THROTTLE_CLASSES": ["core.api.throttling.ApiKeyRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.PortalPagination",
    "DEFAULT_FILTER_BACKENDS": ["core.api.filters.StrictFilterBackend"],
    # JSON only: form encodings cannot say a value's type (every value would be text).
    "DEFAULT_PARSER_CLASSES": ["core.api.parsers.StrictJSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.PortalAutoSchema",
    "EXCEPTION_HANDLER": "core.api.errors.api_exception_handler",
    "DEFAULT_METADATA_CLASS": None,  # no OPTIONS introspection
}
SPECTACULAR_SETTINGS = {
    "TITLE": "BYODS portal API",
    "DESCRIPTION": (
        "Everything staff do in the portal, for automation. Authenticate with an API key "
        "(`Authorization: Bearer byods_…`, created by an operator under Staff → API keys) or a "
        'signed-in session. Errors: `{"error": {"code", "message", "fields"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["core.api.permissions.CanReadApiSchema"],
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "OffboardModeEnum": "tenants.models.CustomerOrg.OffboardMode",
        # Two choice sets are both called "kind": name each after what it kinds.
        "BulkOperationKindEnum": "operations.models.BulkOperation.Kind",
        "AlertKindEnum": "alerts.models.Kind",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api.schema.close_requests",
        "core.api.schema.add_links",
    ],
    "SWAGGER_UI_DIST": "SIDECAR",
    # No validator badge: Swagger UI would send the schema's URL to validator.swagger.io.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Webex -----------------------------------------------------------------------------------
# Defaults point at the emulator that `make run` starts; production sets the real hosts.
WEBEX_API_BASE = env.str("WEBEX_API_BASE", default="http://127.0.0.1:8900/v1")
WEBEX_IDBROKER_BASE = env.str("WEBEX_IDBROKER_BASE", default="http://127.0.0.1:8900/idb")
WEBEX_EMULATOR_URL = env.str("WEBEX_EMULATOR_URL", default="http://127.0.0.1:8900")
# Per region: where its API and identity broker live. Unset regions fall back to the defaults
# above, so the emulator answers for every region in development.
WEBEX_REGIONS = {
    region: {
        "api": env.str(f"WEBEX_API_BASE_{region.upper()}", default=WEBEX_API_BASE),
        "idbroker": env.str(f"WEBEX_IDBROKER_BASE_{region.upper()}", default=WEBEX_IDBROKER_BASE),
    }
    for region in ("us", "eu", "integration")
}
# Token refresh policy: refresh when less than this share of the access token's life remains,
# and at least this often, so the refresh token (90 days) never idles out.
TOKEN_REFRESH_REMAINING_FRACTION = env.float("TOKEN_REFRESH_REMAINING_FRACTION", default=0.5)
TOKEN_REFRESH_MAX_INTERVAL_DAYS = env.float("TOKEN_REFRESH_MAX_INTERVAL_DAYS", default=3.0)
# The partner's integration token is refreshed this many days before it expires.
INTEGRATION_TOKEN_REFRESH_DAYS_BEFORE = env.float(
    "INTEGRATION_TOKEN_REFRESH_DAYS_BEFORE", default=2.0
)
# Rotation engine: how many due data sources one sweep claims, how many go in one batch task,
# how many Webex calls a batch keeps in flight, how many rotations share each database
# statement of a batch (its group), and how long a claim holds.
# A sweep every ROTATION_SWEEP_SECONDS claims at most ROTATION_SWEEP_LIMIT: the engine never
# rotates faster than limit / seconds (10,000 / 15 s = 667/s, above what one box does; README
# "Capacity"). Raise it with the worker hosts.
ROTATION_SWEEP_LIMIT = env.int("ROTATION_SWEEP_LIMIT", default=10_000)
ROTATION_CONCURRENCY = env.int("ROTATION_CONCURRENCY", default=32)
# 32 rounds of a process's calls: the tail of a batch (threads idle while its last calls
# finish, before the next batch starts) is then a small share of its time.
ROTATION_BATCH_SIZE = env.int("ROTATION_BATCH_SIZE", default=32 * ROTATION_CONCURRENCY)
ROTATION_GROUP_SIZE = env.int("ROTATION_GROUP_SIZE", default=32)
ROTATION_LEASE_SECONDS = env.int("ROTATION_LEASE_SECONDS", default=300)
# Single flight for "rotate now" and "refresh now" (button, API, bulk): a request that finds
# the same work finished less than this many seconds ago is answered "done just now" instead
# of calling Webex again. A call still in flight is always coalesced, whatever this says.
SINGLE_FLIGHT_SECONDS = env.int("SINGLE_FLIGHT_SECONDS", default=10)
# "At risk" (health, alerts): a token (a data source's JWS, an org's access token) with less
# than this share of its lifetime left, or less than the floor in seconds, whichever is longer:
# a 24 h JWS is at risk 6 h ahead, a 30 min one 7.5 min ahead. See core/policy.py.
ALERT_AT_RISK_SHARE = env.float("ALERT_AT_RISK_SHARE", default=0.25)
ALERT_AT_RISK_FLOOR_SECONDS = env.int("ALERT_AT_RISK_FLOOR_SECONDS", default=300)
# Who an alert names as its owner when its org has none (a person or a team, in words).
ALERT_DEFAULT_OWNER = env.str("ALERT_DEFAULT_OWNER", default="Operations on call")
# A JWS expiry from Webex more than this many seconds beyond now + the requested lifetime (or
# already past) is flagged as clock skew and the schedule uses now + lifetime instead.
JWS_EXPIRY_SKEW_MARGIN_SECONDS = env.int("JWS_EXPIRY_SKEW_MARGIN_SECONDS", default=120)
# Bulk operations: items one task invocation settles before it queues the next chunk (each
# item is one Webex call or a few, so a chunk stays well inside the task time limit).
BULK_CHUNK_SIZE = env.int("BULK_CHUNK_SIZE", default=25)
# Fleet-wide counts on the dashboard and the data source list are recomputed at most this
# often (seconds; 0: every render). They scan every data source; everything else is live.
PORTAL_AGGREGATE_CACHE_SECONDS = env.int("PORTAL_AGGREGATE_CACHE_SECONDS", default=30)
# Where Webex reaches this portal (webhook target); unset: taken from the request.
PORTAL_PUBLIC_URL = env.str("PORTAL_PUBLIC_URL", default="")
WEBEX_CONNECT_TIMEOUT = env.float("WEBEX_CONNECT_TIMEOUT", default=5.0)
WEBEX_READ_TIMEOUT = env.float("WEBEX_READ_TIMEOUT", default=20.0)

# --- Verifying the JWS Webex presents to data source URLs (datasources/jws/) --------------
# Issuers whose tokens are accepted; keys come from `{iss}/oauth2/v2/keys/verificationjwk`, and
# only after the issuer passed this list.
JWS_ISSUERS = env.list(
    "JWS_ISSUERS",
    default=[
        f"https://{host}.webex.com/idb"
        for host in (
            "idbroker",
            "idbroker-eu",
            "idbrokerbts",
            "idbrokerbts-eu",
            "idbroker-b-us",
            "idbroker-ca",
        )
    ],
)
# Also trust the identity brokers WEBEX_REGIONS point at when they are not Webex (the emulator
# in development, tests and demos). Off by default once the regions point at webex.com.
JWS_ALLOW_EMULATOR = env.bool(
    "JWS_ALLOW_EMULATOR",
    default=not (urlsplit(WEBEX_IDBROKER_BASE).hostname or "").endswith(".webex.com"),
)
JWS_LEEWAY_SECONDS = env.int("JWS_LEEWAY_SECONDS", default=30)  # for exp and iat
JWS_JWKS_CACHE_SECONDS = env.int("JWS_JWKS_CACHE_SECONDS", default=3600)
# At most one refetch per issuer in this interval for an unknown kid, so random kids cannot
# make us hammer the issuer.
JWS_JWKS_REFETCH_INTERVAL_SECONDS = env.float("JWS_JWKS_REFETCH_INTERVAL_SECONDS", default=10.0)
# How long one process reuses a data source lookup (0 disables); see datasources/jws/.
JWS_DATASOURCE_CACHE_SECONDS = env.float("JWS_DATASOURCE_CACHE_SECONDS", default=5.0)

# --- Watching itself: heartbeats, the scheduler lease, /metrics (README "Operating") --------
# Every worker and scheduler process writes a heartbeat this often (seconds).
PORTAL_HEARTBEAT_SECONDS = env.float("PORTAL_HEARTBEAT_SECONDS", default=15.0)
# Web processes heartbeat too (at most once per PORTAL_HEARTBEAT_SECONDS, from a request), so
# `rotate_encryption_keys` sees which key ids every process holds. Off only in tests.
PORTAL_WEB_HEARTBEAT = env.bool("PORTAL_WEB_HEARTBEAT", default=True)
# A worker silent this long is not alive; no live worker opens an alert and /healthz?deep=1
# answers 503.
PORTAL_WORKER_SILENT_SECONDS = env.int("PORTAL_WORKER_SILENT_SECONDS", default=60)
# No scheduler tick for this long: an alert, and /healthz?deep=1 answers 503.
PORTAL_SCHEDULER_SILENT_SECONDS = env.int("PORTAL_SCHEDULER_SILENT_SECONDS", default=90)
# Run two or more `celery beat`: the one holding this database lease sends the schedule's
# tasks and renews it every third of it; a standby takes over once it lapses.
SCHEDULER_LEASE_SECONDS = env.float("SCHEDULER_LEASE_SECONDS", default=30.0)
CELERY_BEAT_SCHEDULER = "byods_portal.scheduler:LeasedScheduler"
# The deep health check calls Webex unwell above this share of errors over 5 minutes.
PORTAL_WEBEX_ERROR_SHARE = env.float("PORTAL_WEBEX_ERROR_SHARE", default=0.2)
# Bearer token Prometheus presents to GET /metrics (and /healthz?deep=1); unset: /metrics is
# 404. Generate with `python -c "import secrets; print(secrets.token_urlsafe(32))"`.
PORTAL_METRICS_TOKEN = env.str("PORTAL_METRICS_TOKEN", default="")

# --- Logging: one format for web, worker and beat; secrets never reach it -------------------
# json: one JSON object per line (timestamp, level, logger, message, correlation_id, and the
# org_id / datasource_id a service is working on), for the log shipper. text: for people
# (`make run`). Both pass through core.logs: the context fields, then the redaction net.
LOG_FORMAT = env.str("LOG_FORMAT", default="text" if DEBUG else "json")
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or text, not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {
            "()": "core.logs.ContextFilter",
            "missing": None if LOG_FORMAT == "json" else "-",
        },
        "redact": {"()": "core.logs.RedactingFilter"},
        "refusals": {"()": "core.logs.RefusalFilter"},
    },
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s"},
        "json": {
            "()": "core.logs.JsonFormatter",  # python-json-logger's, tracebacks scrubbed
            "fmt": "{levelname}{name}{message}{correlation_id}",
            "style": "{",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": True,  # ISO 8601, UTC
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            # Context first, so the redaction also sees the fields it added.
            "filters": ["context", "redact"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # A refused request (403, 404) is one line, without the exception's traceback.
        "django.request": {"filters": ["refusals"]},
        "celery": {"level": "INFO"},
    },
}


# --- E-mail (alert notices): one URL says which server and how -----------------------------
def email_config(url: str) -> dict[str, Any]:
    """Django's EMAIL_* settings from an EMAIL_URL such as `smtp+tls://user:pass@host:587`
    (STARTTLS), `smtp+ssl://user:pass@host:465` (TLS from the first byte), `smtp://host:25` or
    `consolemail://` (print to the console). Percent-encode `@`, `:` and `/` in the user and
    password. Parts the URL leaves out keep Django's defaults (no user, no TLS)."""
    parsed = environ.Env.email_url_config(url)
    return {
        "EMAIL_BACKEND": parsed["EMAIL_BACKEND"],
        "EMAIL_HOST": parsed.get("EMAIL_HOST") or "localhost",
        "EMAIL_PORT": parsed.get("EMAIL_PORT") or 25,
        "EMAIL_HOST_USER": parsed.get("EMAIL_HOST_USER") or "",
        "EMAIL_HOST_PASSWORD": parsed.get("EMAIL_HOST_PASSWORD") or "",
        "EMAIL_USE_TLS": bool(parsed.get("EMAIL_USE_TLS")),
        "EMAIL_USE_SSL": bool(parsed.get("EMAIL_USE_SSL")),
    }


# Unset: the console backend, so `make run` works with no mail server (notices are printed).
_email = email_config(env.str("EMAIL_URL", default="consolemail://"))
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email["EMAIL_HOST"]
EMAIL_PORT = _email["EMAIL_PORT"]
EMAIL_HOST_USER = _email["EMAIL_HOST_USER"]
EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"]
EMAIL_USE_TLS = _email["EMAIL_USE_TLS"]
EMAIL_USE_SSL = _email["EMAIL_USE_SSL"]
# Seconds an SMTP connect or reply may take: an unreachable server fails the delivery (which
# is retried later) instead of holding a worker thread for the OS's TCP timeout.
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=10.0)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="byods-portal@localhost")

# --- Error reports: Sentry when SENTRY_DSN is set (core/sentry.py scrubs every event) --------
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    from core.sentry import init_sentry

    init_sentry(
        dsn=SENTRY_DSN,
        environment=env.str("SENTRY_ENVIRONMENT", default="production"),
        release=env.str("SENTRY_RELEASE", default=""),
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )
