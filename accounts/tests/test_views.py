"""Every page of the foundation for every persona, allowed and refused."""

import pytest
from django.urls import reverse

ALLOWED = {
    # page: personas that may open it (the others get 403, anonymous visitors the login page)
    "dashboard": {"operator", "onboarding", "auditor"},
    "accounts:staff_list": {"operator", "auditor"},  # auditors read it (access review)
}


@pytest.mark.parametrize("persona", ["operator", "onboarding", "auditor", "norole", "anonymous"])
@pytest.mark.parametrize("page", sorted(ALLOWED))
def test_page_access_by_persona(client_for, persona, page):
    response = client_for(persona).get(reverse(page))
    if persona == "anonymous":
        assert response.status_code == 302
        assert response.url.startswith(reverse("login") + "?next=")
    elif persona in ALLOWED[page]:
        assert response.status_code == 200
    else:
        assert response.status_code == 403
        assert b"You may not open this page" in response.content


@pytest.mark.parametrize("persona", ["operator", "onboarding", "auditor"])
def test_navigation_shows_only_pages_the_role_may_open(client_for, persona):
    html = client_for(persona).get(reverse("dashboard")).content.decode()
    staff_link = f'href="{reverse("accounts:staff_list")}"'
    assert (staff_link in html) == (persona in ("operator", "auditor"))
    assert 'href="/"' in html


def test_login_page_is_public_and_signs_in(client, django_user_model):
    django_user_model.objects.create_user(username="u@example.com", password="a-long-passphrase-1")
    assert client.get(reverse("login")).status_code == 200
    bad = client.post(reverse("login"), {"username": "u@example.com", "password": "wrong"})
    assert bad.status_code == 200
    assert b"That e-mail and password do not match an active staff account." in bad.content
    good = client.post(  # e-mail logins are case-insensitive
        reverse("login"), {"username": "U@Example.com", "password": "a-long-passphrase-1"}
    )
    assert good.status_code == 302 and good.url == reverse("dashboard")
    from audit.models import AuditEvent

    actions = list(AuditEvent.objects.order_by("id").values_list("action", "outcome"))
    assert actions == [("staff.sign_in_failed", "failed"), ("staff.signed_in", "ok")]
    assert "wrong" not in AuditEvent.objects.get(action="staff.sign_in_failed").summary


@pytest.mark.django_db
def test_a_password_typed_into_the_email_field_is_not_recorded(client):
    from audit.models import AuditEvent

    client.post(reverse("login"), {"username": "hunter2-my-password", "password": "x"})
    event = AuditEvent.objects.get(action="staff.sign_in_failed")
    assert "hunter2" not in event.summary + event.actor + event.target_label


def test_signing_out_is_confirmed_and_recorded(operator_client):
    from audit.models import AuditEvent

    response = operator_client.post(reverse("logout"), follow=True)
    assert b"You have been signed out." in response.content
    assert AuditEvent.objects.filter(action="staff.signed_out").exists()


def test_logout_requires_post_and_ends_the_session(operator_client):
    assert operator_client.get(reverse("logout")).status_code == 405
    assert operator_client.post(reverse("logout")).status_code == 302
    assert operator_client.get(reverse("dashboard")).status_code == 302


def test_staff_list_searches(operator_client, client_for):
    client_for("auditor")
    html = operator_client.get(reverse("accounts:staff_list"), {"q": "auditor"}).content.decode()
    assert ">auditor@example.com</a></td>" in html
    assert ">operator@example.com</a></td>" not in html
    empty = operator_client.get(reverse("accounts:staff_list"), {"q": "nobody"}).content.decode()
    assert "No staff match" in empty


@pytest.mark.parametrize("persona", ["onboarding", "auditor", "norole"])
def test_only_operators_reach_the_django_admin(client_for, persona):
    response = client_for(persona).get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response.url


def test_operators_reach_the_django_admin(operator_client):
    assert operator_client.get("/admin/").status_code == 200
