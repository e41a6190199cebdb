import pytest
from django.apps import apps

from audit.redaction import REDACTED, changes, is_secret_field, is_secret_name, redact

# Every field, of every model in the project, whose value is a secret. A new secret field is
# caught either by its encrypted field class or by its name; this table is the reviewed list.
KNOWN_SECRET_FIELDS = {
    ("auth", "user", "password"),
    ("sessions", "session", "session_key"),
    ("sessions", "session", "session_data"),
    ("tenants", "serviceapp", "client_secret"),
    ("tenants", "serviceapp", "integration_token"),
    ("tenants", "serviceapp", "integration_refresh_token"),
    ("tenants", "serviceapp", "integration_client_secret"),
    ("tenants", "serviceapp", "webhook_secret"),
    ("tenants", "orgtoken", "access_token"),
    ("tenants", "orgtoken", "refresh_token"),
    ("accounts", "apikey", "secret_hash"),
    ("accounts", "invite", "token_hash"),
    ("accounts", "authenticatorapp", "key"),  # the TOTP secret, sealed
    ("otp_static", "statictoken", "token"),
    ("alerts", "alertchannel", "webhook_secret"),
}
# Secrets the portal itself holds must be encrypted at rest; Django's own are hashed
# (password) or opaque session data, which Django protects its own way. API keys are hashed
# like passwords: the portal never needs them back, only to recognise them.
DJANGO_OWN = {
    ("auth", "user", "password"),
    ("sessions", "session", "session_key"),
    ("sessions", "session", "session_data"),
    ("accounts", "apikey", "secret_hash"),
    # an invitation link's token: SHA-256, like API keys
    ("accounts", "invite", "token_hash"),
    # recovery codes: a keyed digest (accounts.services.recovery_digest), never the code
    ("otp_static", "statictoken", "token"),
}


def all_fields():
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if getattr(field, "concrete", False):
                yield model._meta.app_label, model._meta.model_name, field


def test_every_model_field_goes_through_the_one_decision():
    secret = {
        (app, model, field.name) for app, model, field in all_fields() if is_secret_field(field)
    }
    assert secret == KNOWN_SECRET_FIELDS


def test_every_secret_the_portal_holds_is_encrypted_at_rest():
    from core.encryption import EncryptedTextField

    for app, model, field in all_fields():
        if (app, model, field.name) in KNOWN_SECRET_FIELDS - DJANGO_OWN:
            assert isinstance(field, EncryptedTextField), (app, model, field.name)


@pytest.mark.parametrize(
    "name",
    [
        "access_token",
        "refresh_token",
        "client_secret",
        "webhook_secret",
        "jws_token",
        "jwsToken",
        "accessToken",
        "clientSecret",
        "password",
        "api_key",
        "private_key",
        "X-Spark-Signature",
        "Authorization",
        "PORTAL_ENCRYPTION_KEYS",
        "webhookSecret",
        "integrationToken",
        "authToken",
        "bearerToken",
        "secretKey",
        "refreshToken",
    ],
)
def test_secret_names(name):
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "access_expires_at",
        "token_expiry_time",
        "tokenExpiryTime",
        "tokenLifetimeMinutes",
        "api_key_prefix",
        "key_id",
        "nonce",
        "status",
        "url",
        "audience",
        "token_type",
        "accessExpiresAt",
        "refreshTokenExpiresIn",
    ],
)
def test_metadata_names_are_not_secret(name):
    assert not is_secret_name(name)


def test_redact_walks_nested_structures():
    value = {"a": [{"refresh_token": "R"}], "tokens": {"access_token": "A", "expires_in": 5}}
    assert redact(value) == {
        "a": [{"refresh_token": REDACTED}],
        "tokens": {"access_token": REDACTED, "expires_in": 5},
    }


def test_changes_show_a_replaced_secret_without_its_values():
    diff = changes(
        {"access_token": "old", "status": "active", "same": 1},
        {"access_token": "new", "status": "disabled", "same": 1},
    )
    assert diff == {
        "access_token": {"before": REDACTED, "after": REDACTED},
        "status": {"before": "active", "after": "disabled"},
    }
