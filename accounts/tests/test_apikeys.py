"""API keys: shown once, stored as a hash, bound to a role, revocable; the operator pages."""

import datetime as dt
import hashlib

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts.models import ApiKey
from accounts.roles import Perm, Role, role_has_perm
from accounts.services import apikey_create, apikey_revoke
from audit.context import Actor
from audit.models import AuditEvent

SETUP = Actor.system("test-setup")
HEALTH = "/api/v1/health/"


@pytest.mark.django_db
def test_a_key_is_returned_once_and_stored_only_as_its_sha256():
    api_key, key = apikey_create(name="pipeline", role=Role.ONBOARDING, actor=SETUP)
    assert key.startswith(api_key.prefix + "_") and api_key.prefix.startswith("byods_")
    assert api_key.secret_hash == hashlib.sha256(key.encode()).hexdigest()
    row = ApiKey.objects.get(pk=api_key.pk)
    stored = " ".join(str(getattr(row, f.attname)) for f in ApiKey._meta.fields)
    assert key not in stored and key[len(api_key.prefix) + 1 :] not in stored
    assert len(key) > 40  # 256 random bits after the prefix
    event = AuditEvent.objects.get(action="apikey.created")
    assert event.target_label == api_key.prefix and key not in str(event.changes)


@pytest.mark.django_db
def test_two_keys_never_share_a_prefix_or_a_secret():
    keys = [apikey_create(name=f"k{i}", role=Role.AUDITOR, actor=SETUP) for i in range(20)]
    assert len({k.prefix for k, _ in keys}) == 20 and len({s for _, s in keys}) == 20


@pytest.mark.django_db
def test_it_rejects_a_key_without_a_name_or_with_a_past_expiry():
    with pytest.raises(ValidationError) as exc:
        apikey_create(
            name=" ",
            role=Role.AUDITOR,
            expires_at=timezone.now() - dt.timedelta(minutes=1),
            actor=SETUP,
        )
    assert set(exc.value.message_dict) == {"name", "expires_at"}


@pytest.mark.django_db
def test_a_key_authenticates_until_revoked(api_client_for):
    client = api_client_for("auditor")
    assert client.get(HEALTH).status_code == 200
    client.api_key.refresh_from_db()
    assert client.api_key.last_used_at is not None
    with pytest.raises(ValidationError):
        apikey_revoke(api_key=client.api_key, reason="", actor=SETUP)
    apikey_revoke(api_key=client.api_key, reason="laptop lost", actor=SETUP)
    response = client.get(HEALTH)
    assert response.status_code == 401
    assert response.json()["error"] == {
        "code": "authentication_failed",
        "message": "This API key was revoked.",
        "fields": {},
    }
    assert AuditEvent.objects.get(action="apikey.revoked").reason == "laptop lost"


@pytest.mark.django_db
def test_last_used_is_written_at_most_once_a_minute(api_client_for):
    client = api_client_for("auditor")
    client.get(HEALTH)
    client.api_key.refresh_from_db()
    first = client.api_key.last_used_at
    client.get(HEALTH)
    client.api_key.refresh_from_db()
    assert client.api_key.last_used_at == first


def test_the_verifier_role_grants_only_jws_verification():
    assert role_has_perm(Role.VERIFIER, Perm.VERIFY_JWS)
    others = [v for k, v in vars(Perm).items() if k.isupper() and v != Perm.VERIFY_JWS]
    assert not any(role_has_perm(Role.VERIFIER, p) for p in others)
    assert role_has_perm(Role.OPERATOR, Perm.VERIFY_JWS)
    assert not role_has_perm(Role.OPERATOR, "auth.add_user")


@pytest.mark.django_db
def test_staff_accounts_cannot_take_the_verifier_role():
    from accounts.services import staff_user_create

    with pytest.raises(ValidationError) as exc:
        staff_user_create(email="v@example.com", role=Role.VERIFIER, actor=SETUP)
    assert "role" in exc.value.message_dict


# ------------------------------------------------------------------------- pages
@pytest.mark.django_db
def test_an_operator_creates_a_key_sees_it_once_and_revokes_it(operator_client):
    from rest_framework.test import APIClient

    response = operator_client.post(
        reverse("accounts:apikey_create"), {"name": "monitoring", "role": "auditor"}
    )
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    api_key = ApiKey.objects.get(name="monitoring")
    key = response.context["key"]
    assert key in response.content.decode() and 'data-copy-target="api-key"' in response.text
    assert api_key.created_by == operator_client.user and api_key.role == "auditor"
    listing = operator_client.get(reverse("accounts:apikey_list"))
    assert api_key.prefix in listing.text and key not in listing.text
    assert api_key.secret_hash not in listing.text
    machine = APIClient()
    machine.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert machine.get(HEALTH).status_code == 200
    revoke_url = reverse("accounts:apikey_revoke", args=[api_key.public_id])
    confirm = operator_client.get(revoke_url)
    assert confirm.status_code == 200 and "cannot be undone" in confirm.text
    refused = operator_client.post(revoke_url, {"reason": ""})
    assert refused.status_code == 200 and "This field is required." in refused.text
    done = operator_client.post(revoke_url, {"reason": "no longer used"}, follow=True)
    assert "Revoked" in done.text and "revoked" in done.text
    assert machine.get(HEALTH).status_code == 401


@pytest.mark.django_db
def test_the_create_page_shows_errors_beside_the_fields(operator_client):
    response = operator_client.post(reverse("accounts:apikey_create"), {"name": "", "role": "x"})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"name", "role"}
    assert 'aria-invalid="true"' in response.text
    assert not ApiKey.objects.exists()


@pytest.mark.django_db
def test_the_list_says_what_to_do_when_empty(operator_client):
    response = operator_client.get(reverse("accounts:apikey_list"))
    assert "No API keys yet" in response.text


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["onboarding", "auditor", "norole"])
def test_only_operators_manage_keys(client_for, persona):
    api_key, _ = apikey_create(name="k", role=Role.AUDITOR, actor=SETUP)
    client = client_for(persona)
    # Auditors read the list (access review), without the buttons; the others may not.
    listed = client.get(reverse("accounts:apikey_list"))
    if persona == "auditor":
        assert listed.status_code == 200 and "New API key" not in listed.text
        assert "Revoke" not in listed.text and api_key.prefix in listed.text
    else:
        assert listed.status_code == 403
    for url in (
        reverse("accounts:apikey_create"),
        reverse("accounts:apikey_revoke", args=[api_key.public_id]),
    ):
        assert client.get(url).status_code == 403
        data = {"name": "x", "role": "operator", "reason": "xxxxx"}
        assert client.post(url, data).status_code == 403
    assert ApiKey.objects.count() == 1 and ApiKey.objects.get().revoked_at is None


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(reverse("accounts:apikey_list"))
    assert response.status_code == 302 and response.url.startswith("/login/")
