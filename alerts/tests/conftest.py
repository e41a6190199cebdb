"""Alert tests: an org and data sources registered in the emulator over real HTTP, a tiny
local HTTP server that receives webhooks, and a real SMTP server (aiosmtpd) that receives mail."""

import json
import socket
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

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


@pytest.fixture
def reauth(org, django_user_model):  # noqa: F811 - `org` is the shared fixture
    """An open alert: the org must reauthorize (its owner is named in every notice)."""
    from alerts import services
    from alerts.models import Alert
    from tenants.models import CustomerOrg

    owner = django_user_model.objects.create_user(username="owner@example.com")
    CustomerOrg.objects.filter(pk=org.pk).update(status="reauthorization_required", owner=owner)
    report = services.alerts_evaluate(actor=SYSTEM)
    return Alert.objects.get(pk=report.opened[0])


SMTP_USER, SMTP_PASSWORD = "alerts@example.com", "smtp-pass/with:odd@chars"


class MailServer:
    """A real SMTP server on a free loopback port that asks for a login and keeps each message.

    `refuse` set to an SMTP reply ("550 ...") makes it refuse every recipient, as a server
    does for an unknown mailbox or a relay it does not allow.
    """

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.logins: list[tuple[str, str]] = []
        self.refuse = ""
        server = self

        class Handler:
            async def handle_RCPT(self, smtp, session, envelope, address, options):  # noqa: N802
                if server.refuse:
                    return server.refuse
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, smtp, session, envelope):  # noqa: N802
                server.messages.append(
                    {
                        "from": envelope.mail_from,
                        "to": list(envelope.rcpt_tos),
                        "message": message_from_bytes(envelope.content, policy=policy.default),
                    }
                )
                return "250 Message accepted"

        def authenticate(smtp, session, envelope, mechanism, auth_data):
            login = (auth_data.login.decode(), auth_data.password.decode())
            server.logins.append(login)
            # handled=False: aiosmtpd answers a failure with 535 itself.
            return AuthResult(success=login == (SMTP_USER, SMTP_PASSWORD), handled=False)

        with socket.socket() as probe:  # a free port (the controller needs one up front)
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(
            Handler(),
            hostname="127.0.0.1",
            port=self.port,
            authenticator=authenticate,
            auth_require_tls=False,  # loopback only; production URLs use smtp+tls / smtp+ssl
        )
        self.controller.start()
        self.running = True

    def url(self, user: str = SMTP_USER, password: str = SMTP_PASSWORD) -> str:
        from urllib.parse import quote

        return f"smtp://{quote(user, safe='')}:{quote(password, safe='')}@127.0.0.1:{self.port}"

    def received(self) -> list[EmailMessage]:
        return [m["message"] for m in self.messages]

    def close(self) -> None:
        if self.running:  # a test may have stopped it already
            self.controller.stop()
            self.running = False


@pytest.fixture
def mail_server(settings):
    """The SMTP server, and the portal's mail settings made from an EMAIL_URL pointing at it by
    the very function settings.py uses."""
    from byods_portal.settings import email_config

    server = MailServer()
    for name, value in email_config(server.url()).items():
        setattr(settings, name, value)
    settings.EMAIL_TIMEOUT = 5
    yield server
    server.close()
