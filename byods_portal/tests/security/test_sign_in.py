"""Sign-in throttling, session and cookie flags, security headers."""

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from audit.vocabulary import Action

PASSWORD = "a-long-passphrase-1"


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(username="u@example.com", password=PASSWORD)


def sign_in(client, password, username="u@example.com", ip="198.51.100.7"):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip
    )


@pytest.mark.django_db
def test_it_locks_an_account_after_repeated_failures_even_for_the_right_password(
    client, staff, settings
):
    settings.LOGIN_THROTTLE_FAILURES = 3
    for _ in range(2):
        response = sign_in(client, "wrong")
        assert b"do not match an active staff account" in response.content
    locked = sign_in(client, "wrong")
    assert b"Too many failed sign-ins" in locked.content
    assert b"paused for 15 minutes" in locked.content
    # The right password during the lock is refused too, without saying it was right.
    right = sign_in(client, PASSWORD)
    assert right.status_code == 200 and b"Too many failed sign-ins" in right.content
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action=Action.STAFF_SIGN_IN_LOCKED).count() == 1
    event = AuditEvent.objects.get(action=Action.STAFF_SIGN_IN_LOCKED)
    assert event.target_label == "u@example.com" and "198.51.100.7" in event.summary
    assert PASSWORD not in str(list(AuditEvent.objects.values()))


@pytest.mark.django_db
def test_the_lock_ends_after_the_window(client, staff, settings, time_machine):
    settings.LOGIN_THROTTLE_FAILURES = 2
    time_machine.move_to("2026-01-01 09:00:00+00:00", tick=False)
    sign_in(client, "wrong")
    sign_in(client, "wrong")
    assert b"Too many failed sign-ins" in sign_in(client, PASSWORD).content
    time_machine.move_to("2026-01-01 09:16:00+00:00", tick=False)
    response = sign_in(client, PASSWORD)
    assert response.status_code == 302 and response.url == reverse("dashboard")


@pytest.mark.django_db
def test_a_success_resets_the_count(client, staff, settings):
    settings.LOGIN_THROTTLE_FAILURES = 3
    sign_in(client, "wrong")
    sign_in(client, "wrong")
    assert sign_in(client, PASSWORD).status_code == 302
    other = Client()
    sign_in(other, "wrong")
    sign_in(other, "wrong")
    assert sign_in(other, PASSWORD).status_code == 302


@pytest.mark.django_db
def test_one_address_spraying_many_accounts_is_locked(client, staff, settings):
    settings.LOGIN_THROTTLE_IP_FAILURES = 4
    for n in range(4):
        sign_in(client, "wrong", username=f"victim{n}@example.com", ip="203.0.113.50")
    blocked = sign_in(client, PASSWORD, ip="203.0.113.50")
    assert b"Too many failed sign-ins" in blocked.content
    # The same account from another address is not locked (only the spraying address is).
    assert sign_in(Client(), PASSWORD, ip="198.51.100.8").status_code == 302


@pytest.mark.django_db
def test_behind_the_proxy_the_address_is_the_one_the_proxy_appended(client, staff, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.LOGIN_THROTTLE_IP_FAILURES = 3
    for n in range(3):  # a forged first entry changes every time; the proxy's does not
        client.post(
            reverse("login"),
            {"username": f"v{n}@example.com", "password": "x"},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=f"1.2.3.{n}, 203.0.113.77",
        )
    other = Client()
    blocked = other.post(
        reverse("login"),
        {"username": "u@example.com", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="9.9.9.9, 203.0.113.77",
    )
    assert b"Too many failed sign-ins" in blocked.content
    # Another client behind the same proxy is not locked out.
    assert (
        Client()
        .post(
            reverse("login"),
            {"username": "u@example.com", "password": PASSWORD},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR="198.51.100.20",
        )
        .status_code
        == 302
    )


@pytest.mark.django_db
def test_the_admin_sign_in_is_throttled_too(client, django_user_model, settings):
    settings.LOGIN_THROTTLE_FAILURES = 2
    django_user_model.objects.create_superuser("root@example.com", "", PASSWORD)
    for _ in range(2):
        client.post("/admin/login/", {"username": "root@example.com", "password": "x"})
    response = client.post("/admin/login/", {"username": "root@example.com", "password": PASSWORD})
    assert response.status_code == 200 and "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_security_headers_on_every_page(operator_client):
    for path in ("/", "/login/", "/orgs/", "/audit/"):
        response = operator_client.get(path)
        assert response["X-Frame-Options"] == "DENY", path
        assert response["X-Content-Type-Options"] == "nosniff", path
        assert response["Referrer-Policy"] == "same-origin", path
        assert response["Cross-Origin-Opener-Policy"] == "same-origin", path


@pytest.mark.django_db
def test_session_and_csrf_cookies_are_http_only_and_same_site(client, staff):
    client.get(reverse("login"))
    response = sign_in(client, PASSWORD)
    session = response.cookies["sessionid"]
    assert session["httponly"] is True and session["samesite"] == "Lax"
    assert 0 < int(session["max-age"]) <= 12 * 3600
    csrf = client.cookies["csrftoken"]
    assert csrf["httponly"] is True and csrf["samesite"] == "Lax"


def test_cookies_are_secure_and_hsts_on_under_https():
    """Under PORTAL_HTTPS the production settings mark cookies Secure and send HSTS."""
    import json

    from byods_portal.tests.test_settings import PROD_SECRETS, run_django

    code = (
        "from django.conf import settings as s; import json; print(json.dumps(["
        "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY,"
        "s.SESSION_COOKIE_SAMESITE, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS,"
        "s.SESSION_COOKIE_AGE]))"
    )
    result = run_django(code, DJANGO_DEBUG="false", PORTAL_HTTPS="true", **PROD_SECRETS)
    assert result.returncode == 0, result.stderr
    secure, csrf_secure, httponly, samesite, redirect, hsts, age = json.loads(result.stdout)
    assert (secure, csrf_secure, httponly, samesite, redirect) == (True, True, True, "Lax", True)
    assert hsts >= 31536000 and age <= 12 * 3600
