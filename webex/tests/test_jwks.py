"""The JWKS fetcher: against the emulator's real key set, and a loopback server that answers
what a test needs (errors, non-JSON, redirects, keys the verifier must skip)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from webex.jwks import JwksFetchError, jwks_fetch, jwks_parse, jwks_url


@pytest.fixture
def answer():
    """A loopback server whose next answer is `answer["status"]`, headers and body."""
    state = {"status": 200, "headers": {}, "body": b"{}"}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            self.send_response(state["status"])
            for name, value in state["headers"].items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(state["body"])))
            self.end_headers()
            self.wfile.write(state["body"])

        def log_message(self, format, *args):  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}/idb/oauth2/v2/keys/verificationjwk"
    yield state
    server.shutdown()
    server.server_close()


def _jwk(kid, **extra):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    return {**json.loads(RSAAlgorithm.to_jwk(key)), "kid": kid, **extra}


def test_jwks_url_follows_the_issuer():
    assert jwks_url("https://idbroker.webex.com/idb") == (
        "https://idbroker.webex.com/idb/oauth2/v2/keys/verificationjwk"
    )
    assert jwks_url("https://idbroker-eu.webex.com/idb/") == (
        "https://idbroker-eu.webex.com/idb/oauth2/v2/keys/verificationjwk"
    )


def test_it_fetches_the_emulators_keys(emulator, emulator_server):
    kid = emulator.rotate_keys()["kid"]
    keys = jwks_fetch(url=jwks_url(f"{emulator_server.base_url}/idb"))
    assert kid in keys
    assert all(isinstance(key, rsa.RSAPublicKey) for key in keys.values())


def test_it_keeps_only_rs256_signing_keys_with_a_kid():
    keys = jwks_parse(
        [
            _jwk("good"),
            _jwk("enc", use="enc"),
            _jwk("ps256", alg="PS256"),
            {**_jwk("x"), "kid": ""},
            {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "a", "y": "b"},
            {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
            "not-a-dict",
        ]
    )
    assert set(keys) == {"good"}


@pytest.mark.parametrize(
    "status, headers, body, problem",
    [
        (500, {}, b"", "HTTP 500"),
        (302, {"Location": "http://elsewhere.invalid/keys"}, b"", "HTTP 302"),
        (200, {}, b"<html>", "not JSON"),
        (200, {}, b'{"nokeys": []}', "no 'keys' list"),
    ],
)
def test_it_raises_a_named_error_for_a_bad_answer(answer, status, headers, body, problem):
    answer.update(status=status, headers=headers, body=body)
    with pytest.raises(JwksFetchError) as excinfo:
        jwks_fetch(url=answer["url"])
    assert problem in str(excinfo.value)
    assert answer["url"] in str(excinfo.value)


def test_an_unreachable_issuer_is_a_fetch_error():
    with pytest.raises(JwksFetchError) as excinfo:
        jwks_fetch(url="http://127.0.0.1:9/idb/oauth2/v2/keys/verificationjwk", connect_timeout=1)
    assert "ConnectionError" in str(excinfo.value)
