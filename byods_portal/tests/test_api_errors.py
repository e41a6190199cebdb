"""Every answer of the API is in its JSON error format, including those Django gives without a
view (a path that matches no route, a crash) and those about the query string."""

import logging
import uuid

import pytest
from django.test import Client

from byods_portal.tests.security.conftest import iter_patterns

IDS = ("<uuid:id>",)


def error(response) -> dict:
    assert response["Content-Type"] == "application/json", response["Content-Type"]
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    return body["error"]


def api_routes_with_an_id() -> list[tuple[str, str, list[str]]]:
    """(route, method, ...) of every API route that takes an `{id}`."""
    found = []
    for _name, route, pattern in iter_patterns():
        if not route.startswith("api/v1/") or "<uuid:id>" not in route:
            continue
        actions = getattr(pattern.callback, "actions", {}) or {}
        for method in sorted(actions):
            found.append(("/" + route.replace("<uuid:id>", "not-a-uuid"), method))
    return found


ROUTES = api_routes_with_an_id()


def test_every_route_with_an_id_is_checked():
    assert len(ROUTES) >= 19


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "method"), ROUTES)
def test_a_malformed_id_answers_the_json_404(api_client_for, path, method):
    response = getattr(api_client_for("operator"), method)(path)
    assert response.status_code == 404
    found = error(response)
    assert found["code"] == "not_found" and "UUID" in found["message"]


@pytest.mark.django_db
def test_a_path_outside_the_api_keeps_the_html_404(operator_client):
    response = operator_client.get("/datasources/not-a-uuid/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


@pytest.mark.django_db
def test_a_crash_answers_the_json_500_and_logs_its_traceback(api_client_for, monkeypatch, caplog):
    from byods_portal.api import views

    def crash():
        raise RuntimeError("boom")

    monkeypatch.setattr(views, "run_checks", crash)
    key = api_client_for("operator").key
    client = Client(raise_request_exception=False)
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = client.get("/api/v1/health/", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 500
    assert error(response)["code"] == "server_error"
    assert "boom" not in response.content.decode()  # the details are in the log only
    assert any(record.exc_info for record in caplog.records)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page_size=null", "page_size"),
        ("page_size=0", "page_size"),
        ("page_size=201", "page_size"),
        ("page=0", "page"),
        ("page=last", "page"),
        ("status=active&status=active", "status"),
        ("org=", "org"),
        ("status=", "status"),
    ],
)
def test_query_parameters_are_read_strictly(api_client_for, query, field):
    response = api_client_for("auditor").get(f"/api/v1/datasources/?{query}")
    assert response.status_code == 400
    assert field in error(response)["fields"]


@pytest.mark.django_db
def test_a_page_past_the_end_is_a_404_and_free_text_may_be_empty(api_client_for):
    client = api_client_for("auditor")
    assert client.get("/api/v1/datasources/?page=9").status_code == 404
    assert client.get("/api/v1/datasources/?q=&page=1&page_size=200").status_code == 200


@pytest.mark.django_db
def test_an_audit_cursor_that_is_not_a_number_is_refused(api_client_for):
    response = api_client_for("auditor").get("/api/v1/audit/events/?before=abc")
    assert response.status_code == 400 and "before" in error(response)["fields"]


@pytest.mark.django_db
def test_an_undeclared_method_answers_405_with_its_allow_header(api_client_for):
    client = api_client_for("auditor")
    response = client.generic("TRACE", "/api/v1/audit/events/export/?format=csv")
    assert response.status_code == 405 and error(response)["code"] == "method_not_allowed"
    response = client.put(f"/api/v1/orgs/{uuid.uuid4()}/")
    assert response.status_code == 405 and "GET" in response["Allow"]


@pytest.mark.django_db
def test_a_big_body_answers_413_on_any_api_path(api_client_for, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    client = api_client_for("operator")
    for path in ("/api/v1/orgs/", "/api/v1/alerts/incidents/", "/api/v1/bulk-operations/"):
        response = client.post(path, {"name": "x" * 2000}, format="json")
        assert response.status_code == 413, path
        found = error(response)
        assert found["code"] == "too_large" and "at most 1000 bytes" in found["message"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/orgs/", {"name": ["Globex"]}, "name"),
        ("/api/v1/orgs/", {"region": {"us": 1}}, "region"),
        ("/api/v1/alerts/incidents/", {"summary": ["a", "b"]}, "summary"),
        ("/api/v1/bulk-operations/", {"kind": "rotate", "all": "true"}, "all"),
        ("/api/v1/bulk-operations/", {"kind": "disable", "message": 1}, "message"),
        ("/api/v1/bulk-operations/", {"kind": "offboard", "confirm_count": "3"}, "confirm_count"),
        ("/api/v1/bulk-operations/preview/", {"ids": [1]}, "ids.0"),
        ("/api/v1/bulk-operations/preview/", {"filters": {"q": ["x"]}}, "filters.q"),
    ],
)
def test_every_write_checks_json_types(api_client_for, path, body, field):
    response = api_client_for("operator").post(path, body, format="json")
    assert response.status_code == 400
    assert error(response)["fields"][field][0].startswith("Send ")


@pytest.mark.django_db
def test_the_rate_limit_lets_calls_through_when_its_cache_is_down(api_client_for, settings, caplog):
    """Redis restarting must not turn every API call into a 500: the limit is not counted for
    that moment, and the log says so."""
    from webex_emulator.testing import free_port

    client = api_client_for("auditor")
    port = free_port()  # nothing listens there: the cache is "down"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    with caplog.at_level(logging.WARNING, logger="core.api.throttling"):
        response = client.get("/api/v1/health/")
    assert response.status_code in (200, 503)  # the health answer itself, not a crash
    assert any("rate limit not counted" in r.getMessage() for r in caplog.records)
