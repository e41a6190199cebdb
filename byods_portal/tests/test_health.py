import pytest
from django.db.utils import ConnectionHandler
from django.urls import reverse

from core import health


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["anonymous", "operator", "auditor"])
def test_healthz_answers_200_without_login_when_services_are_up(client_for, persona):
    response = client_for(persona).get(reverse("healthz"))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.django_db
def test_healthz_answers_503_when_the_database_is_down(client, monkeypatch):
    broken = ConnectionHandler(
        {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "/nonexistent/dir/x.db"}}
    )["default"]
    monkeypatch.setattr(health, "connection", broken)
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["checks"]["database"] == {
        "ok": False,
        "detail": "unreachable (OperationalError)",
        "ms": body["checks"]["database"]["ms"],
    }


@pytest.mark.django_db
def test_healthz_answers_503_when_the_broker_is_down(client, settings):
    settings.BROKER_IS_EMBEDDED = False
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["ok"] is False
    assert response.json()["checks"]["database"]["ok"] is True


@pytest.mark.django_db
def test_healthz_answers_503_when_the_embedded_broker_folder_is_unusable(
    client, settings, tmp_path
):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    settings.BROKER_IS_EMBEDDED = True
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(blocker / "queue")}
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert "filesystem broker unusable" in response.json()["checks"]["broker"]["detail"]


def test_healthz_refuses_other_methods(client):
    assert client.post(reverse("healthz")).status_code == 405
