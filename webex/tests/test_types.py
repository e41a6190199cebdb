import datetime as dt

from webex.types import DataSource, DataSourceRequest, TokenPair

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def test_token_pair_keeps_the_old_refresh_token_when_none_comes_back():
    pair = TokenPair.from_json(
        {"access_token": "A2", "expires_in": 3600, "token_type": "Bearer"},
        now=NOW,
        previous_refresh_token="R1",
    )
    assert pair.refresh_token == "R1"
    assert pair.access_expires_at == NOW + dt.timedelta(hours=1)
    assert pair.refresh_expires_at is None
    assert not pair.refresh_token_rotated


def test_secrets_stay_out_of_repr():
    pair = TokenPair.from_json(
        {
            "access_token": "ACCESS-SECRET",
            "expires_in": 60,
            "refresh_token": "REFRESH-SECRET",
            "refresh_token_expires_in": 120,
        },
        now=NOW,
    )
    ds = DataSource.from_json({"id": "d1", "jwsToken": "eyJ.JWS-SECRET.sig"})
    text = repr(pair) + repr(ds) + str(pair)
    assert "SECRET" not in text


def test_update_body_is_the_full_payload_with_status():
    body = DataSourceRequest(
        schema_id="s",
        url="https://a.example.com/x",
        audience="aud",
        subject="sub",
        nonce="n",
        token_lifetime_minutes=60,
        status="disabled",
        error_message="maintenance",
    ).to_json()
    assert body == {
        "schemaId": "s",
        "url": "https://a.example.com/x",
        "audience": "aud",
        "subject": "sub",
        "nonce": "n",
        "tokenLifetimeMinutes": 60,
        "status": "disabled",
        "errorMessage": "maintenance",
    }
