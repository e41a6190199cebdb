"""Alert tests: an org and data sources registered in the emulator over real HTTP, and a tiny
local HTTP server that receives webhooks."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from datasources.tests.conftest import org, register  # noqa: F401 - shared fixtures
from tenants.tests.conftest import SYSTEM, portal_app  # noqa: F401 - shared fixture

SECRET = "whsec-test-0123456789abcdef"


class Receiver:
    """Records every POST; answers with `status` (change it to simulate an outage)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                self.send_response(receiver.status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def payloads(self) -> list[dict]:
        return [json.loads(r["body"]) for r in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def channel(db, receiver):
    from alerts.models import Kind
    from alerts.services import alertchannel_create

    return alertchannel_create(
        team="Customer success",
        email_recipients=["cs@example.com", "oncall@example.com"],
        webhook_url=receiver.url,
        webhook_secret=SECRET,
        kinds=list(Kind.values),
        actor=SYSTEM,
    )
