"""The Webex client against a live emulator over real HTTP: every operation, pagination,
each error class, Retry-After, retries of idempotent calls only, timeouts, and the JWS."""

import datetime as dt
import http.server
import threading
import uuid

import jwt
import pytest

from webex.client import RetryPolicy, WebexClient
from webex.errors import (
    WebexClientError,
    WebexConflict,
    WebexError,
    WebexForbidden,
    WebexInvalidGrant,
    WebexNotFound,
    WebexRateLimited,
    WebexServerError,
    WebexTransportError,
    WebexUnauthorized,
    WebexValidationError,
)
from webex.types import DataSourceRequest

SCHEMA = "5397013b-7920-4ffc-807c-e8a3e0a18f43"


class SleepRecorder:
    def __init__(self):
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeps():
    return SleepRecorder()


@pytest.fixture
def client(webex_world, sleeps):
    return WebexClient(
        api_base=webex_world.api_base,
        idbroker_base=webex_world.idbroker_base,
        connect_timeout=2,
        read_timeout=2,
        sleep=sleeps,
        retry=RetryPolicy(max_attempts=3, backoff_base=0.01, retry_after_cap=5),
    )


@pytest.fixture
def tokens(client, webex_world):
    return client.org_token(
        integration_token=webex_world.integration_token,
        client_id=webex_world.client_id,
        client_secret=webex_world.client_secret,
        target_org_id=webex_world.org_webex_id,
    )


def payload(**overrides):
    fields = dict(
        schema_id=SCHEMA,
        url="https://receiver.byods.example.com/grpc",
        audience="byods-rx",
        subject="org-feed",
        nonce=uuid.uuid4().hex,
        token_lifetime_minutes=60,
    )
    return DataSourceRequest(**(fields | overrides))


def api_calls(emulator, method, path_fragment):
    return [
        r for r in emulator.requests_log() if r["method"] == method and path_fragment in r["path"]
    ]


# ---------------------------------------------------------------- tokens
@pytest.mark.parametrize("org_form", ["webex_id", "uuid"])
def test_org_token_accepts_both_org_id_forms(client, webex_world, org_form):
    target = webex_world.org_webex_id if org_form == "webex_id" else webex_world.org_id
    before = dt.datetime.now(dt.UTC)
    pair = client.org_token(
        integration_token=webex_world.integration_token,
        client_id=webex_world.client_id,
        client_secret=webex_world.client_secret,
        target_org_id=target,
    )
    assert pair.access_token and pair.refresh_token
    assert pair.token_type == "Bearer"
    # Emulator defaults are Webex's: access about 14 days, refresh 90 days.
    assert (
        dt.timedelta(days=13) < pair.access_expires_at - before <= dt.timedelta(days=14, seconds=5)
    )
    assert pair.refresh_expires_at - before > dt.timedelta(days=89)


def test_org_token_is_refused_for_an_org_that_has_not_authorized(client, webex_world, emulator):
    stranger = emulator.create_org(name="Not Yet Inc")
    with pytest.raises(WebexForbidden) as err:
        client.org_token(
            integration_token=webex_world.integration_token,
            client_id=webex_world.client_id,
            client_secret=webex_world.client_secret,
            target_org_id=stranger["id"],
        )
    assert err.value.status == 403
    assert err.value.tracking_id


def test_org_token_errors_for_unknown_app_and_wrong_secret(client, webex_world):
    with pytest.raises(WebexNotFound):
        client.org_token(
            integration_token=webex_world.integration_token,
            client_id="C-no-such-app",
            client_secret="x",
            target_org_id=webex_world.org_id,
        )
    with pytest.raises(WebexUnauthorized):
        client.org_token(
            integration_token=webex_world.integration_token,
            client_id=webex_world.client_id,
            client_secret="wrong-secret",
            target_org_id=webex_world.org_id,
        )


def test_refresh_keeps_the_refresh_token_webex_keeps(client, webex_world, tokens):
    pair = client.refresh_access_token(
        client_id=webex_world.client_id,
        client_secret=webex_world.client_secret,
        refresh_token=tokens.refresh_token,
    )
    assert pair.access_token != tokens.access_token
    assert pair.refresh_token == tokens.refresh_token
    assert not pair.refresh_token_rotated
    # The new access token works.
    assert client.list_datasources(access_token=pair.access_token) == []


def test_refresh_with_rotation_returns_a_new_token_and_the_old_one_fails(
    client, webex_world, tokens, emulator
):
    emulator.set_config(rotateRefreshTokens=True)
    pair = client.refresh_access_token(
        client_id=webex_world.client_id,
        client_secret=webex_world.client_secret,
        refresh_token=tokens.refresh_token,
    )
    assert pair.refresh_token_rotated and pair.refresh_token != tokens.refresh_token
    with pytest.raises(WebexInvalidGrant) as err:
        client.refresh_access_token(
            client_id=webex_world.client_id,
            client_secret=webex_world.client_secret,
            refresh_token=tokens.refresh_token,
        )
    assert err.value.status == 400 and err.value.code == "invalid_grant"
    assert isinstance(err.value, WebexValidationError)


def test_expired_access_token_is_unauthorized(client, tokens, emulator):
    emulator.advance_clock(15 * 86400)
    with pytest.raises(WebexUnauthorized):
        client.list_datasources(access_token=tokens.access_token)


def test_deauthorized_org_token_is_forbidden(client, webex_world, tokens, emulator):
    emulator.deauthorize(webex_world.application_id, webex_world.org_id)
    with pytest.raises(WebexForbidden):
        client.list_datasources(access_token=tokens.access_token)


# ---------------------------------------------------------------- data sources
def test_register_get_update_delete(client, tokens, webex_world):
    request = payload()
    ds = client.register_datasource(access_token=tokens.access_token, request=request)
    assert ds.id and ds.status == "active" and ds.nonce == request.nonce
    assert ds.org_id == webex_world.org_id
    assert ds.jws_token and ds.token_expiry_time is not None
    lifetime = ds.token_expiry_time - dt.datetime.now(dt.UTC)
    assert dt.timedelta(minutes=58) < lifetime <= dt.timedelta(minutes=60, seconds=5)

    fetched = client.get_datasource(access_token=tokens.access_token, datasource_id=ds.id)
    assert (fetched.url, fetched.audience, fetched.subject) == (
        request.url,
        request.audience,
        request.subject,
    )

    rotated = client.update_datasource(
        access_token=tokens.access_token,
        datasource_id=ds.id,
        request=payload(nonce="second-nonce", status="active"),
    )
    assert rotated.nonce == "second-nonce" and rotated.jws_token != ds.jws_token

    disabled = client.update_datasource(
        access_token=tokens.access_token,
        datasource_id=ds.id,
        request=payload(nonce="third", status="disabled", error_message="Planned maintenance"),
    )
    assert disabled.status == "disabled" and disabled.error_message == "Planned maintenance"

    client.delete_datasource(access_token=tokens.access_token, datasource_id=ds.id)
    with pytest.raises(WebexNotFound):
        client.get_datasource(access_token=tokens.access_token, datasource_id=ds.id)


def test_update_refuses_a_partial_payload_before_calling_webex(client, tokens, emulator):
    with pytest.raises(ValueError, match="full payload"):
        client.update_datasource(
            access_token=tokens.access_token, datasource_id="x", request=payload()
        )
    assert api_calls(emulator, "PUT", "/dataSources") == []


def test_disable_without_message_is_a_validation_error_naming_the_field(client, tokens):
    ds = client.register_datasource(access_token=tokens.access_token, request=payload())
    with pytest.raises(WebexValidationError) as err:
        client.update_datasource(
            access_token=tokens.access_token,
            datasource_id=ds.id,
            request=payload(status="disabled", error_message=""),
        )
    assert "errorMessage" in str(err.value)
    assert err.value.tracking_id


def test_register_outside_the_domains_is_a_validation_error(client, tokens):
    with pytest.raises(WebexValidationError) as err:
        client.register_datasource(
            access_token=tokens.access_token,
            request=payload(url="https://byods.example.com.evil.io/x"),
        )
    assert err.value.status == 400 and "url" in str(err.value)


def test_list_follows_link_next_across_pages(client, tokens, emulator):
    registered = {
        client.register_datasource(access_token=tokens.access_token, request=payload()).id
        for _ in range(5)
    }
    emulator.clear_requests_log()
    listed = client.list_datasources(access_token=tokens.access_token, page_size=2)
    assert {d.id for d in listed} == registered
    assert len(listed) == 5
    assert len(api_calls(emulator, "GET", "/dataSources")) == 3


def test_a_token_of_one_org_never_sees_another_orgs_data_sources(
    client, tokens, webex_world, emulator
):
    other = emulator.create_org(name="Other Org")
    emulator.authorize(webex_world.application_id, other["id"])
    other_tokens = client.org_token(
        integration_token=webex_world.integration_token,
        client_id=webex_world.client_id,
        client_secret=webex_world.client_secret,
        target_org_id=other["id"],
    )
    mine = client.register_datasource(access_token=tokens.access_token, request=payload())
    assert client.list_datasources(access_token=other_tokens.access_token) == []
    with pytest.raises(WebexNotFound):
        client.get_datasource(access_token=other_tokens.access_token, datasource_id=mine.id)


def test_schemas_are_the_four_published_ones(client, tokens):
    schemas = client.list_schemas(access_token=tokens.access_token)
    assert {s.id for s in schemas} == {
        "1b2b7077-dbcd-4732-b2f9-296f9168168a",
        "523e1b7f-4693-47bc-b84e-a7b7a505fb0b",
        "5397013b-7920-4ffc-807c-e8a3e0a18f43",
        "a38a10b7-43e4-4676-a076-a7d6dce9387d",
    }
    one = client.get_schema(access_token=tokens.access_token, schema_id=SCHEMA)
    assert one.id == SCHEMA and one.protocol in {"gRPC", "web-socket"}
    with pytest.raises(WebexNotFound):
        client.get_schema(access_token=tokens.access_token, schema_id=str(uuid.uuid4()))


# ---------------------------------------------------------------- errors and retries
@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, WebexValidationError),
        (401, WebexUnauthorized),
        (403, WebexForbidden),
        (404, WebexNotFound),
        (405, WebexClientError),
        (409, WebexConflict),
        (410, WebexNotFound),
        (415, WebexClientError),
        (428, WebexClientError),
        (500, WebexServerError),
    ],
)
def test_each_status_maps_to_its_error_class(client, tokens, emulator, status, cls):
    emulator.set_faults(
        [
            {
                "method": "GET",
                "pathRegex": "/v1/dataSources",
                "kind": "status",
                "status": status,
                "times": 1,
            }
        ]
    )
    with pytest.raises(cls) as err:
        client.list_datasources(access_token=tokens.access_token)
    assert err.value.status == status
    assert err.value.tracking_id


@pytest.mark.parametrize("status", [502, 503, 504])
def test_idempotent_calls_are_retried_on_gateway_errors(client, tokens, emulator, sleeps, status):
    ds = client.register_datasource(access_token=tokens.access_token, request=payload())
    emulator.clear_requests_log()
    emulator.set_faults(
        [
            {
                "method": "PUT",
                "pathRegex": "/v1/dataSources/",
                "kind": "status",
                "status": status,
                "times": 2,
            }
        ]
    )
    updated = client.update_datasource(
        access_token=tokens.access_token,
        datasource_id=ds.id,
        request=payload(nonce="after-retries", status="active"),
    )
    assert updated.nonce == "after-retries"
    assert [r["status"] for r in api_calls(emulator, "PUT", "/dataSources/")] == [
        status,
        status,
        200,
    ]
    assert len(sleeps.calls) == 2 and all(0 <= s <= 0.02 for s in sleeps.calls)


def test_gateway_errors_give_up_after_the_attempt_budget(client, tokens, emulator):
    emulator.set_faults(
        [{"method": "GET", "pathRegex": "/v1/dataSources", "kind": "status", "status": 503}]
    )
    with pytest.raises(WebexServerError) as err:
        client.list_datasources(access_token=tokens.access_token)
    assert err.value.transient and err.value.status == 503
    assert len(api_calls(emulator, "GET", "/dataSources")) == 3


def test_post_is_never_retried_on_a_server_error(client, tokens, emulator, sleeps):
    emulator.set_faults(
        [
            {
                "method": "POST",
                "pathRegex": "/v1/dataSources$",
                "kind": "status",
                "status": 503,
                "times": 1,
            }
        ]
    )
    with pytest.raises(WebexServerError):
        client.register_datasource(access_token=tokens.access_token, request=payload())
    assert len(api_calls(emulator, "POST", "/dataSources")) == 1
    assert sleeps.calls == []


def test_429_waits_for_retry_after_then_succeeds(client, tokens, emulator, sleeps):
    emulator.set_faults(
        [
            {
                "method": "GET",
                "pathRegex": "/v1/dataSources",
                "kind": "status",
                "status": 429,
                "retryAfter": 2,
                "times": 1,
            }
        ]
    )
    assert client.list_datasources(access_token=tokens.access_token) == []
    assert sleeps.calls == [2.0]


def test_429_beyond_the_cap_raises_for_the_caller_to_reschedule(client, tokens, emulator, sleeps):
    emulator.set_faults(
        [
            {
                "method": "PUT",
                "pathRegex": "/v1/dataSources/",
                "kind": "status",
                "status": 429,
                "retryAfter": 120,
                "times": 1,
            }
        ]
    )
    with pytest.raises(WebexRateLimited) as err:
        client.update_datasource(
            access_token=tokens.access_token,
            datasource_id="any",
            request=payload(status="active"),
        )
    assert err.value.retry_after == 120 and err.value.transient
    assert sleeps.calls == []


def test_423_is_rate_limited_too(client, tokens, emulator, sleeps):
    emulator.set_faults(
        [
            {
                "method": "GET",
                "pathRegex": "/v1/dataSources",
                "kind": "status",
                "status": 423,
                "retryAfter": 1,
                "times": 1,
            }
        ]
    )
    assert client.list_datasources(access_token=tokens.access_token) == []
    assert sleeps.calls == [1.0]


def test_a_reset_connection_is_retried_for_get(client, tokens, emulator, sleeps):
    emulator.set_faults(
        [{"method": "GET", "pathRegex": "/v1/dataSources", "kind": "reset", "times": 1}]
    )
    assert client.list_datasources(access_token=tokens.access_token) == []
    assert len(sleeps.calls) == 1


def test_a_reset_connection_on_post_raises_a_transport_error(client, tokens, emulator, sleeps):
    emulator.set_faults(
        [{"method": "POST", "pathRegex": "/v1/dataSources$", "kind": "reset", "times": 1}]
    )
    with pytest.raises(WebexTransportError) as err:
        client.register_datasource(access_token=tokens.access_token, request=payload())
    assert err.value.status is None and err.value.transient
    assert sleeps.calls == []


def test_a_read_timeout_is_retried_for_put_and_raised_for_post(client, tokens, emulator, sleeps):
    ds = client.register_datasource(access_token=tokens.access_token, request=payload())
    emulator.set_faults(
        [
            {"method": "PUT", "pathRegex": "/v1/dataSources/", "kind": "timeout", "times": 1},
            {"method": "POST", "pathRegex": "/v1/dataSources$", "kind": "timeout", "times": 1},
        ]
    )
    fast = WebexClient(
        api_base=client.api_base,
        read_timeout=0.5,
        sleep=sleeps,
        retry=RetryPolicy(max_attempts=2, backoff_base=0.01),
    )
    updated = fast.update_datasource(
        access_token=tokens.access_token,
        datasource_id=ds.id,
        request=payload(nonce="after-timeout", status="active"),
    )
    assert updated.nonce == "after-timeout"
    with pytest.raises(WebexTransportError, match="timeout"):
        fast.register_datasource(access_token=tokens.access_token, request=payload())


def test_every_call_carries_a_tracking_id_that_errors_quote(client, tokens, emulator):
    client.register_datasource(
        access_token=tokens.access_token, request=payload(), tracking_id="BYODS_test-123"
    )
    posts = api_calls(emulator, "POST", "/dataSources")
    assert posts[-1]["trackingId"] == "BYODS_test-123"
    with pytest.raises(WebexNotFound) as err:
        client.get_datasource(access_token=tokens.access_token, datasource_id="missing")
    assert err.value.tracking_id.startswith("BYODS_")
    assert err.value.tracking_id in str(err.value)


def test_pagination_never_follows_a_link_to_another_host():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            body = b'{"items": [{"id": "a"}]}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Link", '<https://attacker.example/v1/dataSources?page=2>; rel="next"')
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = WebexClient(api_base=f"http://127.0.0.1:{server.server_port}/v1")
        with pytest.raises(WebexError, match="another host"):
            client.list_datasources(access_token="t")
    finally:
        server.shutdown()


# ---------------------------------------------------------------- service app, webhooks, JWKS
def test_service_app_lists_authorizations_with_their_snapshots(client, webex_world, emulator):
    emulator.update_service_app(webex_world.application_id, valid_domains=["new.example.org"])
    app = client.get_service_app(
        integration_token=webex_world.integration_token, client_id=webex_world.client_id
    )
    assert app.client_id == webex_world.client_id
    assert app.valid_domains == ("new.example.org",)
    (auth,) = [a for a in app.authorizations if a.org_id == webex_world.org_id]
    assert auth.valid_domains == ("byods.example.com",)  # the snapshot, not the app's new list
    assert SCHEMA in auth.schema_ids


def test_webhooks_create_list_delete(client, webex_world):
    token = webex_world.integration_token
    hook = client.create_webhook(
        token=token,
        name="BYODS authorizations",
        target_url="https://portal.example.com/hook",
        resource="serviceApp",
        event="authorized",
        filter=f"id={webex_world.application_id}",
        secret="hook-secret",
    )
    assert hook.id and hook.resource == "serviceApp" and hook.event == "authorized"
    assert [h.id for h in client.list_webhooks(token=token)] == [hook.id]
    client.delete_webhook(token=token, webhook_id=hook.id)
    assert client.list_webhooks(token=token) == []
    with pytest.raises(WebexNotFound):
        client.delete_webhook(token=token, webhook_id=hook.id)


def test_the_jws_verifies_with_pyjwt_against_the_emulators_jwks(client, tokens, emulator):
    request = payload(token_lifetime_minutes=30)
    ds = client.register_datasource(access_token=tokens.access_token, request=request)
    jwks = jwt.PyJWKSet.from_dict(client.fetch_jwks())
    kid = jwt.get_unverified_header(ds.jws_token)["kid"]
    key = next(k for k in jwks.keys if k.key_id == kid)
    claims = jwt.decode(
        ds.jws_token,
        key=key.key,
        algorithms=["RS256"],
        audience=request.audience,
        issuer=client.idbroker_base,
    )
    assert claims["sub"] == request.subject
    assert claims["jti"] == request.nonce
    assert claims["exp"] - claims["iat"] == 30 * 60
    assert claims["com.cisco.datasource.url"] == request.url
    assert claims["com.cisco.datasource.schema.uuid"] == SCHEMA

    emulator.rotate_keys()
    after = client.update_datasource(
        access_token=tokens.access_token,
        datasource_id=ds.id,
        request=payload(nonce="post-rotation", status="active"),
    )
    kids = {k["kid"] for k in client.fetch_jwks()["keys"]}
    assert kid in kids  # the previous key stays published for tokens still in flight
    assert jwt.get_unverified_header(after.jws_token)["kid"] in kids - {kid}


class _Scripted(http.server.BaseHTTPRequestHandler):
    """Answers from a script of (status, body) pairs, one per request."""

    script: list = []

    def _answer(self):
        status, body = self.script.pop(0)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("trackingId", "SCRIPTED_1")
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_DELETE = _answer  # noqa: N815 - http.server's naming

    def log_message(self, *args):
        pass


@pytest.fixture
def scripted():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def test_a_retried_delete_that_finds_nothing_counts_as_done(scripted):
    _Scripted.script = [(502, b'{"message": "bad gateway"}'), (404, b'{"message": "gone"}')]
    client = WebexClient(
        api_base=f"http://127.0.0.1:{scripted.server_port}/v1", sleep=lambda s: None
    )
    client.delete_datasource(access_token="t", datasource_id="d1")  # no exception
    _Scripted.script = [(404, b'{"message": "gone"}')]
    with pytest.raises(WebexNotFound):  # a first-attempt 404 is still an error
        client.delete_datasource(access_token="t", datasource_id="d1")


def test_a_success_without_json_is_a_typed_error(scripted):
    _Scripted.script = [(200, b"<html>proxy page</html>")]
    client = WebexClient(api_base=f"http://127.0.0.1:{scripted.server_port}/v1")
    with pytest.raises(WebexError, match="without a JSON body") as err:
        client.get_datasource(access_token="t", datasource_id="d1")
    assert err.value.tracking_id == "SCRIPTED_1"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("5", 5.0),
        ("inf", None),
        ("nan", None),
        ("-3", 0.0),
        ("Thu, 01 Jan 1970 00:00:00 -0000", 0.0),
        ("garbage", None),
    ],
)
def test_retry_after_parsing(header, expected):
    import requests

    from webex.client import _retry_after

    response = requests.Response()
    response.headers["Retry-After"] = header
    assert _retry_after(response) == expected


def _fresh_shared_session(monkeypatch, env: dict[str, str]):
    from webex import client as module

    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(module, "_session", None)
    return module.shared_session()


def test_the_session_reads_the_environment_once_when_it_sets_no_proxy(monkeypatch):
    session = _fresh_shared_session(monkeypatch, {"REQUESTS_CA_BUNDLE": "/etc/ssl/bundle.pem"})
    assert session.trust_env is False  # no per-call environment lookups
    assert session.verify == "/etc/ssl/bundle.pem"  # what requests would have used


def test_the_session_keeps_reading_the_environment_when_a_proxy_is_set(monkeypatch):
    session = _fresh_shared_session(monkeypatch, {"HTTPS_PROXY": "http://proxy.example:3128"})
    assert session.trust_env is True and session.verify is True


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers `{}` to every GET and keeps the request line and headers it saw."""

    seen: list[tuple[str, dict[str, str]]] = []

    def do_GET(self):  # noqa: N802 - the http.server API
        _Recorder.seen.append((self.path, dict(self.headers)))
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def recorder():
    _Recorder.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_without_a_proxy_calls_go_straight_to_the_pool_with_our_headers(monkeypatch, recorder):
    import requests

    _fresh_shared_session(monkeypatch, {})

    def no_session_request(*args, **kwargs):
        raise AssertionError("Session.request is the slow path, for proxies only")

    monkeypatch.setattr(requests.Session, "request", no_session_request)
    client = WebexClient(api_base=f"{recorder}/v1")
    assert client._json("GET", "/dataSources", token="tok") == {}
    ((path, headers),) = _Recorder.seen
    assert path == "/v1/dataSources"
    assert headers["User-Agent"].startswith("byods-portal")
    assert headers["Authorization"] == "Bearer tok" and headers["TrackingID"].startswith("BYODS_")
    assert headers["Accept"] == "application/json"


def test_with_a_proxy_in_the_environment_calls_go_through_it(monkeypatch, recorder):
    """The recorder stands in for the proxy: it receives the absolute URL of the API."""
    _fresh_shared_session(monkeypatch, {"HTTP_PROXY": recorder})
    client = WebexClient(api_base="http://webexapis.invalid/v1")
    assert client._json("GET", "/dataSources", token="tok") == {}
    ((path, headers),) = _Recorder.seen
    assert path == "http://webexapis.invalid/v1/dataSources"
    assert headers["User-Agent"].startswith("byods-portal")
