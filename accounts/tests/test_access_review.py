"""The access review: every staff account and API key, and the role history, for auditors (and
operators) as a page, a CSV and in the API; read-only for auditors."""

import csv
import io
import re

import pytest
from django.urls import reverse

from accounts import services
from accounts.roles import Role
from audit.context import Actor
from audit.models import AuditEvent
from audit.vocabulary import Action

SETUP = Actor.system("test-setup")
pytestmark = pytest.mark.django_db


@pytest.fixture
def accounts(operator_client):
    me = operator_client.user
    person, _ = services.staff_user_create(
        email="cs@example.com", role=Role.ONBOARDING, actor=SETUP
    )
    services.staff_role_change(user=person, role=Role.AUDITOR, reason="moved teams", by=me)
    key, secret = services.apikey_create(
        name="Nightly export", role=Role.AUDITOR, created_by=me, actor=SETUP
    )
    services.apikey_revoke(api_key=key, reason="replaced by v2", revoked_by=me, actor=SETUP)
    return {"person": person, "key": key, "secret": secret}


def test_the_auditor_reads_the_access_review_page(auditor_client, accounts):
    response = auditor_client.get(reverse("accounts:access_review"))
    assert response.status_code == 200
    text = response.content.decode()
    for expected in (
        "cs@example.com",
        "operator@example.com",
        accounts["key"].prefix,
        "Nightly export",
        "moved teams",
        "password",
    ):
        assert expected in text, expected
    assert accounts["secret"] not in text
    assert not re.search(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=", text)
    assert "Deactivate" not in text and "Change role" not in text


def test_the_auditor_downloads_the_csv(auditor_client, accounts):
    response = auditor_client.get(reverse("accounts:access_review_csv"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    staff = {r["email_or_prefix"]: r for r in rows if r["kind"] == "staff"}
    assert staff["cs@example.com"]["role"] == "auditor"
    assert staff["operator@example.com"]["second_factor"] == "yes"  # the persona's device
    assert staff["cs@example.com"]["second_factor"] == "no"
    assert staff["cs@example.com"]["sign_in_method"] == "password"
    (key,) = [r for r in rows if r["kind"] == "apikey"]
    assert key["email_or_prefix"] == accounts["key"].prefix and key["revoked_at"]
    assert key["invited_or_created_by"] == "operator@example.com"
    changes = [r for r in rows if r["kind"] == "role_change" and r["reason"] == "moved teams"]
    assert changes and changes[0]["role_before"] == "onboarding"
    assert changes[0]["role"] == "auditor"
    assert accounts["secret"] not in response.content.decode()
    assert AuditEvent.objects.filter(action=Action.STAFF_ACCESS_REVIEW_EXPORTED).count() == 1


def test_the_csv_neutralises_formulas(auditor_client, operator_client):
    services.apikey_create(name="=HYPERLINK(1)", role=Role.AUDITOR, actor=SETUP)
    rows = auditor_client.get(reverse("accounts:access_review_csv")).content.decode()
    assert "'=HYPERLINK(1)" in rows


def test_the_access_review_is_in_the_api(api_client_for, accounts):
    response = api_client_for("auditor").get("/api/v1/staff/access-review/")
    assert response.status_code == 200
    body = response.json()
    assert {s["email"] for s in body["staff"]} >= {"cs@example.com", "operator@example.com"}
    assert any(k["prefix"] == accounts["key"].prefix for k in body["api_keys"])
    assert any(c["reason"] == "moved teams" for c in body["role_changes"])
    assert accounts["secret"] not in response.content.decode()


def test_the_auditor_reads_staff_and_keys_but_changes_nothing(auditor_client, accounts):
    person = accounts["person"]
    detail = auditor_client.get(
        reverse("accounts:staff_detail", args=[person.staff_profile.public_id])
    )
    assert detail.status_code == 200 and "moved teams" in detail.content.decode()
    assert "Deactivate" not in detail.content.decode()
    listing = auditor_client.get(reverse("accounts:staff_list")).content.decode()
    assert "cs@example.com" in listing and "Invite" not in listing
    assert auditor_client.get(reverse("accounts:apikey_list")).status_code == 200


def test_onboarding_staff_see_no_access_review(onboarding_client):
    for name in ("accounts:access_review", "accounts:access_review_csv", "accounts:staff_list"):
        assert onboarding_client.get(reverse(name)).status_code == 403
