"""Log lines: JSON with the request's context in production, text under DEBUG, never a token."""

import datetime as dt
import io
import json
import logging
import logging.config
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from audit.context import bound, log_scope
from core.scrub import scrub_text

WEBEX_TOKEN = (
    "ZDI3MGEyYzQtNmFlNS00NDNhLWFlNzAtZGI4NDJmZmY1NDk2MjI3ZmFiYzYtYmMz"
    "_PF84_1eb65fdf-9643-417f-9974-ad72cae0e10f"
)
JWS = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJ4IiwianRpIjoibiJ9.c2lnbmF0dXJlLWJ5dGVz"
BASE_DIR = Path(settings.BASE_DIR)


def _handler(fmt: str) -> tuple[logging.Logger, io.StringIO]:
    """A logger writing through the handler LOGGING configures (its formatter, its filters)."""
    configurator = logging.config.DictConfigurator({})
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        configurator.configure_formatter(dict(settings.LOGGING["formatters"][fmt]))
    )
    for name in settings.LOGGING["handlers"]["console"]["filters"]:
        handler.addFilter(configurator.configure_filter(dict(settings.LOGGING["filters"][name])))
    logger = logging.getLogger(f"test.logs.{uuid.uuid4().hex}")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    return logger, stream


def test_production_logs_json_by_default():
    assert settings.LOG_FORMAT == "json"  # the test settings run with DEBUG off, as production
    assert settings.LOGGING["handlers"]["console"]["formatter"] == "json"


def test_a_line_inside_a_bound_correlation_id_is_one_json_object_with_its_context():
    logger, stream = _handler("json")
    cid, org, ds = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with bound(correlation=cid), log_scope(org_id=org, datasource_id=ds):
        logger.warning("rotated %s\nin %d ms", "a data source", 12)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    line = json.loads(lines[0])
    assert line["message"] == "rotated a data source\nin 12 ms"
    assert line["level"] == "WARNING"
    assert line["logger"] == logger.name
    assert line["correlation_id"] == str(cid)
    assert (line["org_id"], line["datasource_id"]) == (str(org), str(ds))
    assert dt.datetime.fromisoformat(line["timestamp"]).utcoffset() == dt.timedelta(0)


def test_ids_passed_in_extra_win_and_unbound_lines_have_no_context():
    logger, stream = _handler("json")
    with log_scope(org_id="from-scope"):
        logger.info("one", extra={"org_id": "from-extra"})
    logger.info("two")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["org_id"] == "from-extra"
    assert second["correlation_id"] is None
    assert "org_id" not in second


def test_tokens_in_messages_arguments_extra_and_tracebacks_are_masked():
    logger, stream = _handler("json")
    logger.info("calling with Authorization: Bearer %s", WEBEX_TOKEN)
    logger.info("token %s, jws %s", WEBEX_TOKEN, JWS)
    logger.info("refresh", extra={"refresh_token": "opaque-value", "detail": f"got {JWS}"})
    try:
        raise ValueError(f"Webex refused access_token={WEBEX_TOKEN}")
    except ValueError:
        logger.exception("call failed")
    output = stream.getvalue()
    assert WEBEX_TOKEN not in output
    assert JWS not in output
    assert "opaque-value" not in output
    assert WEBEX_TOKEN[:20] not in output  # not even a prefix of it
    lines = [json.loads(line) for line in output.splitlines()]
    assert lines[0]["message"] == "calling with Authorization: [redacted]"
    assert lines[1]["message"] == "token [redacted], jws [redacted]"
    assert lines[2]["refresh_token"] == "[redacted]"
    assert lines[3]["exc_info"].endswith("ValueError: Webex refused access_token=[redacted]")


def test_the_text_format_shows_the_correlation_id_and_masks_too():
    logger, stream = _handler("text")
    cid = uuid.uuid4()
    with bound(correlation=cid):
        logger.info("header was Authorization: Bearer abcdef123456")
    (line,) = stream.getvalue().splitlines()
    assert line.endswith(f"INFO {logger.name} [{cid}] header was Authorization: [redacted]")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.def-123", "Authorization: [redacted]"),
        ('{"authorization": "Basic dXNlcjpwYXNz"}', '{"authorization": "[redacted]"}'),
        ("bearer abcdefgh", "bearer [redacted]"),
        (
            "grant_type=refresh_token&refresh_token=r1r2r3",
            "grant_type=refresh_token&refresh_token=[redacted]",
        ),
        (
            '{"client_secret": "abc", "access_token": "xyz"}',
            '{"client_secret": "[redacted]", "access_token": "[redacted]"}',
        ),
        (f"key byods_0a1b2c3d_{'k' * 43} used", "key [redacted] used"),
        (f"x {WEBEX_TOKEN} y", "x [redacted] y"),
        # Not secrets: kept as they are.
        (
            "trackingId=BYODS_1234 token version 3, 5 tokens=ok",
            "trackingId=BYODS_1234 token version 3, 5 tokens=ok",
        ),
        ("access_token_expires_at=2026-01-01", "access_token_expires_at=2026-01-01"),
    ],
)
def test_scrub_text_masks_credential_shapes(text, expected):
    assert scrub_text(text) == expected


def test_hex_digests_survive_in_logs_but_not_in_strict_mode():
    digest = "a" * 64  # the audit chain head is logged on purpose; a client secret looks alike
    assert scrub_text(f"head sha256 {digest}") == f"head sha256 {digest}"
    assert scrub_text(f"secret was {digest}", strict=True) == "secret was [redacted]"


def _emit_with_settings(**env: str) -> str:
    """Start Django as `make run` / production would, with `env`, and log one line in a bound
    correlation id; returns what the console handler wrote."""
    script = (
        "import logging, uuid, django\n"
        "django.setup()\n"
        "from audit.context import bound\n"
        "with bound(correlation=uuid.UUID('00000000-0000-4000-8000-000000000001')):\n"
        "    logging.getLogger('portal.demo').info('hello %s', 'world')\n"
    )
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "LOG_", "PORTAL_"))
    }
    environment |= {
        "DJANGO_SETTINGS_MODULE": "byods_portal.settings",
        "PORTAL_READ_DOTENV": "false",
    }
    environment |= env
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stderr


@pytest.mark.slow
def test_make_run_logs_readable_text():
    output = _emit_with_settings(DJANGO_DEBUG="true")
    (line,) = output.splitlines()
    assert line.endswith("INFO portal.demo [00000000-0000-4000-8000-000000000001] hello world")


@pytest.mark.slow
def test_production_logs_one_json_line():
    output = _emit_with_settings(
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="k" * 50,
        PORTAL_ENCRYPTION_KEYS="t:dGVzdC1vbmx5LWVuY3J5cHRpb24ta2V5LTAwMDAwMDA=",
    )
    (line,) = output.splitlines()
    data = json.loads(line)
    assert data["message"] == "hello world"
    assert data["correlation_id"] == "00000000-0000-4000-8000-000000000001"
    assert {"timestamp", "level", "logger"} <= data.keys()
