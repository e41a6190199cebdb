"""deploy/prometheus/ with Debian's real promtool: the config and rules load, the rule tests
(series that fire and series that must not) pass, the portal's own /metrics output passes
promtool's lint, and every metric a rule uses is one the portal exports."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from byods_portal.heartbeats import beat_once
from datasources.tests.conftest import org, register  # noqa: F401 - shared fixtures
from stats.liveness import Role
from tenants.tests.conftest import portal_app  # noqa: F401 - shared fixture

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
PROMTOOL = shutil.which("promtool")
TOKEN = "metrics-token-for-tests-0123456789"

if PROMTOOL is None and os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
    raise RuntimeError("CI installs Debian's prometheus package (promtool); .ci/run does it")
pytestmark = pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed")


def promtool(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PROMTOOL or "promtool", *args],
        cwd=DEPLOY,
        input=stdin,
        capture_output=True,
        timeout=60,
    )


def test_the_rules_load_and_their_tests_pass():
    checked = promtool("check", "rules", "rules.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = promtool("test", "rules", "rules_test.yml")
    assert tested.returncode == 0, tested.stdout.decode() + tested.stderr.decode()
    assert b"SUCCESS" in tested.stdout


def test_the_scrape_config_loads():
    checked = promtool("check", "config", "--syntax-only", "prometheus.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_rule_alert_has_a_test_that_fires_it():
    rules = set(re.findall(r"- alert: (\w+)", (DEPLOY / "rules.yml").read_text()))
    tests = (DEPLOY / "rules_test.yml").read_text()
    fired = set(re.findall(r"alertname: (\w+)\n\s+exp_alerts:\n\s+- exp_labels", tests))
    assert rules and rules == fired


@pytest.fixture
def scrape(db, client, settings, register):  # noqa: F811
    """A scrape with every family present: an org with a data source (else the soonest-expiry
    gauges are absent, rightly: nothing can lapse), a worker and a scheduler."""
    settings.PORTAL_METRICS_TOKEN = TOKEN
    register()
    beat_once(role=Role.WORKER, name="celery@w1", started_at=timezone.now())
    beat_once(role=Role.SCHEDULER, name="beat@h:1", started_at=timezone.now(), acting=True)
    response = client.get(reverse("metrics"), headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    return response.content


def test_the_portal_output_passes_promtool_lint(scrape):
    linted = promtool("check", "metrics", stdin=scrape)
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_every_metric_the_rules_use_is_exported(scrape):
    exported = set(re.findall(rb"^# TYPE (\w+) ", scrape, re.MULTILINE))
    exported |= {name + b"_total" for name in exported}
    used = set(re.findall(rb"\b(byods_\w+)", (DEPLOY / "rules.yml").read_bytes()))
    assert used and used <= exported, used - exported
