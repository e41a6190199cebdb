"""Helpers for test suites that need a live Webex emulator.

``EmulatorProcess`` starts ``python -m webex_emulator`` on a free loopback port and stops it;
``EmulatorControl`` drives the ``/_emulator`` control surface. Typical pytest use::

    @pytest.fixture(scope="session")
    def emulator():
        with EmulatorProcess() as process:
            yield process

    def test_something(emulator):
        control = EmulatorControl(emulator.base_url)
        control.reset()
        app = control.create_service_app("App", ["byods.example.com"], [SCHEMA_ID])
        org = control.create_org("Org")
        control.authorize(app["applicationId"], org["id"])
        ...

``LoopbackReceiver`` is a data source's receiving end for ``POST /_emulator/deliver``: an HTTP
server on a free loopback port whose answer a test chooses from the presented
``Authorization`` header.

None of them imports anything from the portal; they only need ``requests`` and the stdlib.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import requests

PACKAGE_PARENT = Path(__file__).resolve().parent.parent
DEFAULT_TIMEOUT = 10.0


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class LoopbackReceiver:
    """A test's data source URL on 127.0.0.1: every POST is recorded (headers and body) and
    answered with ``decide(authorization_header) -> (status, json_body)``.

    Use as a context manager; ``url`` is where it listens and ``received`` what it got."""

    def __init__(self, decide: Callable[[str | None], tuple[int, dict[str, Any]]]) -> None:
        self.decide = decide
        self.received: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                authorization = self.headers.get("Authorization")
                receiver.received.append(
                    {"path": self.path, "authorization": authorization, "body": body}
                )
                status, answer = receiver.decide(authorization)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass  # quiet: the headers hold bearer tokens

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/receive"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class EmulatorProcess:
    """Run an emulator subprocess for the duration of a ``with`` block.

    ``extra_args`` are appended to the command line (``["--latency-ms", "50"]``,
    ``["--seed-demo"]``, ``["--db", path]``...). The process's stderr goes to a temporary file
    whose tail is included in the error if the emulator fails to become healthy in
    ``startup_timeout`` seconds.
    """

    def __init__(
        self,
        extra_args: Sequence[str] = (),
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        startup_timeout: float = 15.0,
        log_level: str = "warning",
        env: dict[str, str] | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.extra_args = list(extra_args)
        self.startup_timeout = startup_timeout
        self.log_level = log_level
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/v1"

    @property
    def control(self) -> EmulatorControl:
        return EmulatorControl(self.base_url)

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "webex_emulator",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--log-level",
            self.log_level,
            *self.extra_args,
        ]

    def start(self) -> Self:
        env = dict(os.environ if self.env is None else self.env)
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(PACKAGE_PARENT), env.get("PYTHONPATH")])
        )
        env.setdefault("PYTHONUNBUFFERED", "1")
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - kept open while it runs
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            self.command(),
            cwd=str(PACKAGE_PARENT),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
        )
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        url = f"{self.base_url}/_emulator/health"
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"emulator exited with code {self.process.returncode} during startup:\n"
                    + self.stderr_tail()
                )
            try:
                if requests.get(url, timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError(
            f"emulator did not answer {url} within {self.startup_timeout} s:\n{self.stderr_tail()}"
        )

    def stderr_tail(self, limit: int = 4000) -> str:
        """The end of the emulator's stderr (its structured log)."""
        if self._stderr is None:
            return ""
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")[-limit:]

    def stop(self) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        self.process = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class EmulatorError(RuntimeError):
    """A control call answered with a non-2xx status."""

    def __init__(self, response: requests.Response) -> None:
        super().__init__(
            f"{response.request.method} {response.url} -> {response.status_code}: "
            + response.text[:500]
        )
        self.response = response
        self.status_code = response.status_code


class EmulatorControl:
    """A thin client of ``/_emulator``. Every call has a timeout and raises on non-2xx."""

    def __init__(self, base_url: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def _call(
        self, method: str, path: str, json: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        response = self.session.request(
            method,
            f"{self.base_url}/_emulator{path}",
            json=json,
            params=params,
            timeout=self.timeout,
        )
        if not 200 <= response.status_code < 300:
            raise EmulatorError(response)
        return response.json() if response.content else None

    # world
    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/health")
        return result

    def create_service_app(
        self,
        name: str,
        valid_domains: Sequence[str],
        schema_ids: Sequence[str],
        *,
        scopes: Sequence[str] | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": name,
            "validDomains": list(valid_domains),
            "dataSourceSchemaIds": list(schema_ids),
        }
        if scopes is not None:
            body["scopes"] = list(scopes)
        if client_id is not None:
            body["clientId"] = client_id
        if client_secret is not None:
            body["clientSecret"] = client_secret
        result: dict[str, Any] = self._call("POST", "/service-apps", body)
        return result

    def list_service_apps(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/service-apps")["items"])

    def update_service_app(
        self,
        application_id: str,
        *,
        valid_domains: Sequence[str] | None = None,
        schema_ids: Sequence[str] | None = None,
        name: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if valid_domains is not None:
            body["validDomains"] = list(valid_domains)
        if schema_ids is not None:
            body["dataSourceSchemaIds"] = list(schema_ids)
        if name is not None:
            body["name"] = name
        result: dict[str, Any] = self._call("PATCH", f"/service-apps/{application_id}", body)
        return result

    def create_org(
        self, name: str, region: str = "us", org_id: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name, "region": region}
        if org_id is not None:
            body["id"] = org_id
        result: dict[str, Any] = self._call("POST", "/orgs", body)
        return result

    def create_integration_token(
        self,
        scopes: Sequence[str] = ("spark:applications_token",),
        lifetime_seconds: int | None = None,
        person_id: str | None = None,
        with_refresh: bool = False,
    ) -> dict[str, Any]:
        """The partner's token; ``with_refresh`` adds ``refreshToken``, ``refreshTokenExpiresIn``,
        ``clientId`` and ``clientSecret`` for ``POST /v1/access_token``."""
        body: dict[str, Any] = {"scopes": list(scopes)}
        if lifetime_seconds is not None:
            body["lifetimeSeconds"] = lifetime_seconds
        if person_id is not None:
            body["personId"] = person_id
        if with_refresh:
            body["withRefresh"] = True
        result: dict[str, Any] = self._call("POST", "/integration-tokens", body)
        return result

    def authorize(
        self, application_id: str, org_id: str, authorizer_id: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"applicationId": application_id, "orgId": org_id}
        if authorizer_id is not None:
            body["authorizerId"] = authorizer_id
        result: dict[str, Any] = self._call("POST", "/authorizations", body)
        return result

    def deauthorize(self, application_id: str, org_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("DELETE", f"/authorizations/{application_id}/{org_id}")
        return result

    # knobs
    def set_faults(
        self, rules: Sequence[dict[str, Any]], seed: int | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"rules": list(rules)}
        if seed is not None:
            body["seed"] = seed
        result: dict[str, Any] = self._call("PUT", "/faults", body)
        return result

    def get_faults(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/faults")
        return result

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def set_latency(self, ms: float, jitter_ms: float = 0.0) -> dict[str, Any]:
        result: dict[str, Any] = self._call("PUT", "/latency", {"ms": ms, "jitterMs": jitter_ms})
        return result

    def set_config(self, **settings: Any) -> dict[str, Any]:
        """``set_config(rotateRefreshTokens=True, accessTokenLifetimeSeconds=60)``."""
        result: dict[str, Any] = self._call("PUT", "/config", settings)
        return result

    def get_config(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/config")
        return result

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", "/clock", {"advanceSeconds": seconds})
        return result

    def clock(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/clock")
        return result

    def rotate_keys(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", "/keys/rotate")
        return result

    def deliver(self, data_source_id: str, target_url: str | None = None) -> dict[str, Any]:
        """Present the data source's current JWS to ``target_url`` (loopback) like Webex."""
        body = {"dataSourceId": data_source_id}
        if target_url is not None:
            body["targetUrl"] = target_url
        result: dict[str, Any] = self._call("POST", "/deliver", body)
        return result

    # observation
    def requests_log(
        self, path: str | None = None, method: str | None = None, org_id: str | None = None
    ) -> list[dict[str, Any]]:
        params = {
            key: value
            for key, value in (("path", path), ("method", method), ("orgId", org_id))
            if value
        }
        return list(self._call("GET", "/requests", params=params)["items"])

    def clear_requests_log(self) -> None:
        self._call("DELETE", "/requests")

    def webhook_deliveries(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/webhook-deliveries")["items"])

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/stats")
        return result

    def reset_stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("DELETE", "/stats")
        return result

    def state(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/state")
        return result

    def reset(self, seed_demo: bool = False, keep_keys: bool = True) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            "POST", "/reset", {"seedDemo": seed_demo, "keepKeys": keep_keys}
        )
        return result
