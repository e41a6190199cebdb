"""Settings come from the environment; production mode fails loudly without its secrets.

Each case runs Django in a fresh subprocess, because settings are read once per process.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROD_SECRETS = {
    "DJANGO_SECRET_KEY": "a-production-like-secret-key-" + "q1w2e3r4t5" * 5,
    "PORTAL_ENCRYPTION_KEYS": "k1:dGVzdC1vbmx5LWVuY3J5cHRpb24ta2V5LTAwMDAwMDA=",
}


def run_django(code: str, **env: str) -> subprocess.CompletedProcess:
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PORTAL_", "EMAIL_"))
    }
    base.pop("DATABASE_URL", None)
    base.pop("CELERY_BROKER_URL", None)
    full_env = (
        base
        | {
            "DJANGO_SETTINGS_MODULE": "byods_portal.settings",
            "PORTAL_READ_DOTENV": "false",
        }
        | env
    )
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()\n" + code],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "PORTAL_ENCRYPTION_KEYS"])
def test_production_mode_fails_loudly_without_a_secret(missing):
    env = {k: v for k, v in PROD_SECRETS.items() if k != missing}
    result = run_django("", DJANGO_DEBUG="false", **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"{missing} must be set when DJANGO_DEBUG is off" in result.stderr


def test_debug_mode_falls_back_to_development_secrets():
    result = run_django(
        "from django.conf import settings; print(settings.SECRET_KEY[:13])", DJANGO_DEBUG="true"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "dev-insecure-"


def test_embedded_defaults_without_service_urls(tmp_path):
    code = (
        "from django.conf import settings; import json; print(json.dumps({"
        "'engine': settings.DATABASES['default']['ENGINE'],"
        "'name': str(settings.DATABASES['default']['NAME']),"
        "'broker': settings.CELERY_BROKER_URL, 'embedded': settings.BROKER_IS_EMBEDDED}))"
    )
    result = run_django(code, DJANGO_DEBUG="false", PORTAL_VAR_DIR=str(tmp_path), **PROD_SECRETS)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "engine": "django.db.backends.sqlite3",
        "name": str(tmp_path / "portal.sqlite3"),
        "broker": "filesystem://",
        "embedded": True,
    }


def test_service_urls_select_postgresql_and_redis():
    code = (
        "from django.conf import settings; import json; print(json.dumps({"
        "'engine': settings.DATABASES['default']['ENGINE'],"
        "'broker': settings.CELERY_BROKER_URL, 'embedded': settings.BROKER_IS_EMBEDDED}))"
    )
    result = run_django(
        code,
        DJANGO_DEBUG="false",
        DATABASE_URL="postgres://u@db.internal:5432/byods",
        CELERY_BROKER_URL="redis://redis.internal:6379/0",
        **PROD_SECRETS,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "engine": "django.db.backends.postgresql",
        "broker": "redis://redis.internal:6379/0",
        "embedded": False,
    }


def test_check_deploy_is_clean_for_a_production_like_environment(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PORTAL_"))}
        | PROD_SECRETS
        | {
            "DJANGO_SETTINGS_MODULE": "byods_portal.settings",
            "DJANGO_DEBUG": "false",
            "PORTAL_READ_DOTENV": "false",
            "PORTAL_VAR_DIR": str(tmp_path),
            "ALLOWED_HOSTS": "portal.example.com",
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


EMAIL_CODE = (
    "from django.conf import settings; import json; print(json.dumps({n: getattr(settings, n) "
    "for n in ('EMAIL_BACKEND', 'EMAIL_HOST', 'EMAIL_PORT', 'EMAIL_HOST_USER', "
    "'EMAIL_HOST_PASSWORD', 'EMAIL_USE_TLS', 'EMAIL_USE_SSL', 'EMAIL_TIMEOUT')}))"
)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {},  # `make run`: no mail server needed, notices are printed
            {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"},
        ),
        (
            {"EMAIL_URL": "smtp+tls://alerts%40example.com:p%40ss%2Fw@mail.example.com:587"},
            {
                "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "EMAIL_HOST": "mail.example.com",
                "EMAIL_PORT": 587,
                "EMAIL_HOST_USER": "alerts@example.com",
                "EMAIL_HOST_PASSWORD": "p@ss/w",
                "EMAIL_USE_TLS": True,
            },
        ),
        (
            {"EMAIL_URL": "smtp+ssl://u:p@mail.example.com:465", "EMAIL_TIMEOUT": "3"},
            {
                "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "EMAIL_HOST": "mail.example.com",
                "EMAIL_PORT": 465,
                "EMAIL_HOST_USER": "u",
                "EMAIL_HOST_PASSWORD": "p",
                "EMAIL_USE_SSL": True,
                "EMAIL_TIMEOUT": 3.0,
            },
        ),
    ],
)
def test_email_url_configures_the_mail_server(env, expected):
    result = run_django(EMAIL_CODE, DJANGO_DEBUG="false", **PROD_SECRETS, **env)
    assert result.returncode == 0, result.stderr
    defaults = {
        "EMAIL_HOST": "localhost",
        "EMAIL_PORT": 25,
        "EMAIL_HOST_USER": "",
        "EMAIL_HOST_PASSWORD": "",
        "EMAIL_USE_TLS": False,
        "EMAIL_USE_SSL": False,
        "EMAIL_TIMEOUT": 10.0,  # a dead server never holds a worker for the TCP timeout
    }
    assert json.loads(result.stdout) == defaults | expected
