"""POST /api/v1/jws/verify/: what receivers in other languages call, with a verifier key."""

import pytest

from .test_jws_e2e import current_jws

URL = "/api/v1/jws/verify/"


@pytest.mark.django_db
def test_a_verifier_key_gets_the_decision_for_a_genuine_token(api_client_for, register, emulator):
    ds = register()
    response = api_client_for("verifier").post(
        URL, {"token": f"Bearer {current_jws(emulator, ds)}"}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["valid"], body["nonce"]) == (True, "current")
    assert body["dataSource"]["id"] == str(ds.public_id)
    assert "token" not in body and "jwsToken" not in str(body)


@pytest.mark.django_db
def test_a_refused_token_is_a_decision_not_an_auth_error(api_client_for, register, emulator):
    ds = register()
    token = current_jws(emulator, ds)
    header, payload, _ = token.split(".")
    response = api_client_for("verifier").post(
        URL, {"token": f"{header}.{payload}.AAAA"}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["valid"], response.json()["code"]) == (False, "bad_signature")


@pytest.mark.django_db
def test_a_missing_token_names_the_field(api_client_for):
    response = api_client_for("verifier").post(URL, {}, format="json")
    assert response.status_code == 400
    assert (response.json()["code"], response.json()["field"]) == ("malformed", "token")


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["onboarding", "auditor"])
def test_other_roles_may_not_verify(api_client_for, role):
    response = api_client_for(role).post(URL, {"token": "x.y.z"}, format="json")
    assert response.status_code == 403


@pytest.mark.django_db
def test_without_a_key_the_answer_is_401_in_the_api_error_format(client):
    response = client.post(URL, {"token": "x.y.z"}, content_type="application/json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.django_db
def test_a_verifier_key_may_use_nothing_else(api_client_for):
    client = api_client_for("verifier")
    assert client.get("/api/v1/datasources/").status_code == 403
    assert client.get("/api/v1/orgs/").status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ("{not json", "application/json", 400),
        ('{"token": "\\ud800"}', "application/json", 400),
        ("token=x.y.z", "application/x-www-form-urlencoded", 415),
    ],
)
def test_a_body_that_is_not_json_is_a_decision_in_the_same_format(
    api_client_for, body, content_type, status
):
    response = api_client_for("verifier").post(URL, body, content_type=content_type)
    assert response.status_code == status
    answer = response.json()
    assert (answer["valid"], answer["code"], answer["field"]) == (False, "malformed", "body")
    assert answer["message"].startswith("Send a JSON object with the token")
