"""Error reports never carry a secret, and keep what makes them useful (core/sentry.py)."""

import logging
import secrets

import pytest
import sentry_sdk
from sentry_sdk.transport import Transport

from core.sentry import FILTERED, init_sentry, scrub_breadcrumb, scrub_event

# Shaped like the tokens Webex (and the emulator) hand out: <random>_<cluster>_<org uuid>.
ACCESS_TOKEN = f"{secrets.token_urlsafe(48)}_PF84_1eb65fdf-9643-417f-9974-ad72cae0e10f"
JWS = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJ4IiwianRpIjoibiJ9.c2lnbmF0dXJlLWJ5dGVz"


class CapturingTransport(Transport):
    """Keeps every envelope in memory: nothing leaves the process."""

    def __init__(self, options=None):
        super().__init__(options)
        self.envelopes = []

    def capture_envelope(self, envelope):
        self.envelopes.append(envelope)

    def sent(self) -> bytes:
        return b"".join(envelope.serialize() for envelope in self.envelopes)


@pytest.fixture
def reports():
    transport = CapturingTransport()
    init_sentry(
        dsn="https://public@sentry.invalid/1",
        environment="test",
        release="byods@test",
        transport=transport,
    )
    try:
        yield transport
    finally:
        sentry_sdk.flush()
        sentry_sdk.init()  # an inactive client: nothing else in the run reports


def _refresh_for(org_name: str, access_token: str, client_secret: str) -> None:
    authorization = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
    note = f"retrying with {access_token} and {JWS}"  # a name that says nothing
    logging.getLogger("webex.client").warning("about to send %s", authorization)
    raise RuntimeError(f"Webex refused {org_name}: access_token={access_token} ({note[:10]})")


def test_a_captured_exception_carries_no_token_anywhere(reports):
    client_secret = secrets.token_urlsafe(24)  # no recognisable shape: caught by its name
    try:
        _refresh_for("Globex Retail", ACCESS_TOKEN, client_secret)
    except RuntimeError:
        with sentry_sdk.new_scope() as scope:
            scope.set_extra("refresh_token", "rt-" + client_secret)
            scope.set_extra("attempt", 2)
            sentry_sdk.capture_exception()
    sentry_sdk.flush()
    sent = reports.sent()
    assert sent  # the event was sent
    for secret in (ACCESS_TOKEN, JWS, client_secret, ACCESS_TOKEN[:24], JWS[:30]):
        assert secret.encode() not in sent
    # What makes the report useful stays.
    assert b"RuntimeError" in sent
    assert b"_refresh_for" in sent
    assert b"Globex Retail" in sent
    assert b'"attempt"' in sent
    assert b"byods@test" in sent


def test_an_event_without_secrets_keeps_its_fields(reports):
    def failing(ds_count):
        raise ValueError(f"expected {ds_count} data sources")

    try:
        failing(4)
    except ValueError:
        sentry_sdk.capture_exception()
    sentry_sdk.flush()
    sent = reports.sent()
    assert b"expected 4 data sources" in sent
    assert b'"ds_count"' in sent and b"failing" in sent
    assert FILTERED.encode() not in sent


def test_the_scrubber_filters_secret_names_and_shapes_without_sentry():
    event = {
        "request": {
            "url": f"https://portal.example.com/cb?access_token={ACCESS_TOKEN}&state=ok",
            "headers": {"Authorization": "Bearer abc", "Cookie": "sessionid=x", "Accept": "*/*"},
            "data": {"client_secret": "s", "name": "Acme", "nested": {"jwsToken": JWS}},
        },
        "exception": {
            "values": [
                {
                    "type": "WebexError",
                    "value": f"refused {ACCESS_TOKEN}",
                    "stacktrace": {
                        "frames": [
                            {
                                "function": "refresh",
                                "vars": {
                                    "refresh_token": "'opaque'",
                                    "token_expires_at": "'2026-01-01'",
                                    "org_id": "'42'",
                                    "pair": f"TokenPair(access='{ACCESS_TOKEN}')",
                                },
                            }
                        ]
                    },
                }
            ]
        },
        "extra": {"webhook_secret": "w", "private_key": "k", "kid": "k1"},
    }
    clean = scrub_event(event)
    assert ACCESS_TOKEN not in str(clean) and JWS not in str(clean)
    headers = clean["request"]["headers"]
    assert headers == {"Authorization": FILTERED, "Cookie": FILTERED, "Accept": "*/*"}
    assert clean["request"]["data"]["client_secret"] == FILTERED
    assert clean["request"]["data"]["name"] == "Acme"
    assert clean["request"]["url"].endswith("access_token=[redacted]&state=ok")
    frame_vars = clean["exception"]["values"][0]["stacktrace"]["frames"][0]["vars"]
    assert frame_vars["refresh_token"] == FILTERED
    assert (frame_vars["token_expires_at"], frame_vars["org_id"]) == ("'2026-01-01'", "'42'")
    assert clean["extra"] == {"webhook_secret": FILTERED, "private_key": FILTERED, "kid": "k1"}
    assert clean["exception"]["values"][0]["type"] == "WebexError"


def test_breadcrumbs_are_scrubbed_too():
    crumb = {
        "category": "httplib",
        "message": f"POST /v1/access_token refresh_token={ACCESS_TOKEN}",
        "data": {"authorization": "Basic dXNlcjpwYXNz", "status_code": 200},
    }
    clean = scrub_breadcrumb(crumb)
    assert ACCESS_TOKEN not in clean["message"]
    assert clean["data"] == {"authorization": FILTERED, "status_code": 200}
