"""`make run` behaves like production where it matters: DEBUG off (so the portal's own error
pages show, never Django's URL listing or a traceback page) and one log line, without a
traceback, for a request the portal refuses."""

import importlib.util
import logging
import sys
import uuid

import pytest
from django.urls import reverse

from .test_settings import ROOT, run_django

_spec = importlib.util.spec_from_file_location("dev_env", ROOT / "scripts" / "dev_env.py")
dev_env = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(dev_env)


def read_env(path) -> dict[str, str]:
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


# ------------------------------------------------------------------------- the dev env
def test_the_dev_env_turns_debug_off_and_keeps_plain_http(tmp_path):
    env_file = tmp_path / ".env"
    dev_env.main(env_file)
    values = read_env(env_file)
    assert values["DJANGO_DEBUG"] == "false"
    assert values["PORTAL_HTTPS"] == "false"  # runserver speaks plain HTTP on 127.0.0.1
    assert values["PORTAL_LOCAL_DEMO"] == "true"
    assert len(values["DJANGO_SECRET_KEY"]) >= 50
    assert env_file.stat().st_mode & 0o777 == 0o600


def test_the_dev_env_is_written_once_and_a_debug_one_is_pointed_out(tmp_path, capsys):
    env_file = tmp_path / ".env"
    env_file.write_text("DJANGO_DEBUG=true\n")
    dev_env.main(env_file)
    assert env_file.read_text() == "DJANGO_DEBUG=true\n"  # a developer's file survives
    assert "now runs with it off" in capsys.readouterr().out


def test_settings_from_the_dev_env_are_production_like_but_plain_http(tmp_path):
    env = read_env(_written(tmp_path))
    code = (
        "from django.conf import settings as s; "
        "print(s.DEBUG, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.LOG_FORMAT, "
        "s.PORTAL_LOCAL_DEMO, s.STORAGES['staticfiles']['BACKEND'].rsplit('.', 1)[1])"
    )
    result = run_django(code, **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "False",
        "False",
        "False",
        "text",
        "True",
        "CompressedManifestStaticFilesStorage",
    ]


def _written(tmp_path):
    env_file = tmp_path / ".env"
    dev_env.main(env_file)
    return env_file


# ------------------------------------------------------------------------- error pages
@pytest.mark.django_db
def test_an_unknown_url_shows_the_portals_404_page(operator_client, settings):
    settings.DEBUG = False
    response = operator_client.get("/no/such/page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "404.html" in [t.name for t in response.templates]
    assert "This page does not exist" in html and "Back to the dashboard" in html
    assert "Using the URLconf" not in html  # Django's technical 404 (DEBUG on) lists the URLs


@pytest.mark.django_db
def test_an_unknown_url_shows_the_404_page_to_an_anonymous_visitor_too(client, settings):
    settings.DEBUG = False
    response = client.get("/no/such/page/")
    assert response.status_code in (302, 404)  # sign-in first, or the portal's page
    if response.status_code == 404:
        assert "Using the URLconf" not in response.content.decode()


# ------------------------------------------------------------------------- one line, no traceback
def _request_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "django.request"]


@pytest.mark.django_db
def test_a_403_logs_one_line_without_a_traceback(client_for, caplog, settings):
    settings.DEBUG = False
    client = client_for("auditor")  # may read, may not onboard
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.get(reverse("onboarding:wizard_app"))
    assert response.status_code == 403
    (record,) = _request_records(caplog)
    assert record.getMessage().startswith("Forbidden (Permission denied): ")
    assert record.exc_info is None and not record.exc_text
    assert "Traceback" not in caplog.text and "PermissionDenied" not in caplog.text


@pytest.mark.django_db
def test_a_404_raised_by_a_view_logs_one_line_without_a_traceback(
    operator_client, caplog, settings
):
    settings.DEBUG = False
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = operator_client.get(reverse("tenants:org_detail", args=[uuid.uuid4()]))
    assert response.status_code == 404
    (record,) = _request_records(caplog)
    assert record.getMessage().startswith("Not Found: ")
    assert record.exc_info is None and "Traceback" not in caplog.text


def test_a_500_keeps_its_traceback():
    from core.logs import RefusalFilter

    try:
        raise RuntimeError("boom")
    except RuntimeError:
        exc_info = sys.exc_info()
    record = logging.LogRecord("django.request", logging.ERROR, "", 0, "boom", (), exc_info)
    record.status_code = 500
    RefusalFilter().filter(record)
    assert record.exc_info is exc_info
    record.status_code = 403
    RefusalFilter().filter(record)
    assert record.exc_info is None
