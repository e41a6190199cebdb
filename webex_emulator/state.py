"""The emulator's state, kept in SQLite through the standard library's ``sqlite3``.

One connection, used only from the event loop thread. Every method is short and synchronous:
no ``await`` ever happens inside a transaction, so concurrent requests cannot interleave inside
one and no locking is needed. The database is ``:memory:`` unless ``--db PATH`` is given, in which
case a demo world (apps, orgs, tokens, data sources, signing keys, the clock offset and the
settings of ``PUT /_emulator/config``) survives restarts. Faults and latency are runtime knobs and
live in memory (see :mod:`webex_emulator.faults`).

All timestamps are POSIX seconds on the emulator clock (:mod:`webex_emulator.clock`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields, replace
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from . import ids
from .clock import Clock

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS service_apps (
    client_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    client_secret TEXT NOT NULL,
    valid_domains TEXT NOT NULL,
    schema_ids TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS integration_clients (
    client_id TEXT PRIMARY KEY,
    client_secret TEXT NOT NULL,
    person_id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    scopes TEXT NOT NULL,
    access_token_lifetime_seconds INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS orgs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    region TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS authorizations (
    client_id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    authorizer_id TEXT NOT NULL,
    authorization_date REAL NOT NULL,
    valid_domains TEXT NOT NULL,
    schema_ids TEXT NOT NULL,
    active INTEGER NOT NULL,
    deauthorized_at REAL,
    PRIMARY KEY (client_id, org_id)
);
CREATE TABLE IF NOT EXISTS authorization_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    event TEXT NOT NULL,
    at REAL NOT NULL,
    valid_domains TEXT NOT NULL,
    schema_ids TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    value TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    client_id TEXT,
    org_id TEXT,
    person_id TEXT,
    scopes TEXT NOT NULL,
    issued_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    revoked_at REAL,
    revoked_reason TEXT,
    refresh_token TEXT
);
CREATE INDEX IF NOT EXISTS tokens_app_org ON tokens (client_id, org_id);
CREATE TABLE IF NOT EXISTS data_sources (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    client_id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    schema_id TEXT NOT NULL,
    url TEXT NOT NULL,
    audience TEXT NOT NULL,
    subject TEXT NOT NULL,
    nonce TEXT NOT NULL,
    token_lifetime_minutes INTEGER NOT NULL,
    status TEXT NOT NULL,
    error_message TEXT NOT NULL,
    jws_token TEXT NOT NULL,
    token_expiry REAL NOT NULL,
    kid TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS data_sources_owner ON data_sources (org_id, client_id, seq);
CREATE TABLE IF NOT EXISTS nonce_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    data_source_id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    operation TEXT NOT NULL,
    kid TEXT NOT NULL,
    at REAL NOT NULL,
    tracking_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS webhooks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    target_url TEXT NOT NULL,
    resource TEXT NOT NULL,
    event TEXT NOT NULL,
    filter TEXT,
    secret TEXT,
    owned_by TEXT,
    status TEXT NOT NULL,
    created REAL NOT NULL,
    org_id TEXT NOT NULL,
    created_by TEXT NOT NULL,
    app_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    webhook_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    event TEXT NOT NULL,
    target_url TEXT NOT NULL,
    payload TEXT NOT NULL,
    signed INTEGER NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    last_status INTEGER,
    last_error TEXT,
    attempt_log TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS signing_keys (
    kid TEXT PRIMARY KEY,
    private_pem TEXT NOT NULL,
    created_at REAL NOT NULL,
    role TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS request_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    query TEXT NOT NULL,
    status INTEGER NOT NULL,
    org_id TEXT,
    client_id TEXT,
    nonce TEXT,
    tracking_id TEXT NOT NULL,
    data_source_id TEXT,
    fault TEXT,
    duration_ms REAL NOT NULL
);
"""

# Everything ``POST /_emulator/reset`` forgets (signing keys are separate: see Store.reset).
WIPE_WORLD_SQL = """
DELETE FROM service_apps;
DELETE FROM integration_clients;
DELETE FROM orgs;
DELETE FROM authorizations;
DELETE FROM authorization_events;
DELETE FROM tokens;
DELETE FROM data_sources;
DELETE FROM nonce_history;
DELETE FROM webhooks;
DELETE FROM webhook_deliveries;
DELETE FROM request_log;
DELETE FROM meta;
"""

# Keep the request log bounded: a long benchmark must not grow memory without limit.
REQUEST_LOG_MAX_ROWS = 100_000


@dataclass
class EmulatorConfig:
    """Settings changed with ``PUT /_emulator/config`` (JSON names are the camelCase forms).

    Defaults follow the README: access tokens about 14 days, refresh tokens 90 days, the refresh
    token returned unchanged on refresh.
    """

    access_token_lifetime_seconds: int = 14 * 24 * 3600
    refresh_token_lifetime_seconds: int = 90 * 24 * 3600
    rotate_refresh_tokens: bool = False
    timeout_fault_seconds: float = 30.0
    webhook_max_attempts: int = 4
    webhook_retry_base_seconds: float = 1.0
    webhook_timeout_seconds: float = 5.0

    def to_json(self) -> dict[str, Any]:
        return {_camel(key): value for key, value in asdict(self).items()}

    @classmethod
    def from_stored(cls, data: dict[str, Any]) -> EmulatorConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


CONFIG_JSON_NAMES = {_camel(f.name): f.name for f in fields(EmulatorConfig)}


@dataclass(frozen=True)
class ServiceApp:
    client_id: str
    name: str
    client_secret: str
    valid_domains: list[str]
    schema_ids: list[str]
    scopes: list[str]
    created_at: float
    updated_at: float

    @property
    def application_id(self) -> str:
        return ids.encode(ids.APPLICATION, self.client_id)


@dataclass(frozen=True)
class IntegrationClient:
    """The partner's integration as an OAuth client, made by ``withRefresh`` token requests.

    A real integration gets its access and refresh tokens through the authorization-code flow
    of one person who granted ``scopes``; it later trades the refresh token, together with its
    ``client_id`` and ``client_secret``, at ``POST /v1/access_token`` for new access tokens of
    the same person and scopes. The emulator skips the browser flow: each ``withRefresh`` control
    call creates one client with that grant already made. Refreshed access tokens live
    ``access_token_lifetime_seconds`` (the creating call's ``lifetimeSeconds``).
    """

    client_id: str
    client_secret: str
    person_id: str
    org_id: str
    scopes: list[str]
    access_token_lifetime_seconds: int
    created_at: float


@dataclass(frozen=True)
class Org:
    id: str
    name: str
    region: str
    created_at: float

    @property
    def webex_id(self) -> str:
        return ids.encode(ids.ORGANIZATION, self.id)


@dataclass(frozen=True)
class Authorization:
    """An org's consent to a Service App: a snapshot of the app's domains and schemas."""

    client_id: str
    org_id: str
    authorizer_id: str
    authorization_date: float
    valid_domains: list[str]
    schema_ids: list[str]
    active: bool
    deauthorized_at: float | None


@dataclass(frozen=True)
class Token:
    """A bearer or refresh token.

    ``kind`` is ``access`` or ``refresh`` (a Service App's token for one org), ``integration``
    (the partner's own token, carrying ``scopes``) or ``integration_refresh`` (the refresh token
    of an :class:`IntegrationClient`). An integration token has a ``client_id`` and
    ``refresh_token`` only when it came from such a client; ``client_id`` then names the
    integration client, never a Service App.
    """

    value: str
    kind: str
    client_id: str | None
    org_id: str | None
    person_id: str | None
    scopes: list[str]
    issued_at: float
    expires_at: float
    revoked_at: float | None
    revoked_reason: str | None
    refresh_token: str | None


@dataclass(frozen=True)
class DataSource:
    id: str
    client_id: str
    org_id: str
    schema_id: str
    url: str
    audience: str
    subject: str
    nonce: str
    token_lifetime_minutes: int
    status: str
    error_message: str
    jws_token: str
    token_expiry: float
    kid: str
    created_by: str
    created_at: float
    updated_by: str
    updated_at: float


@dataclass(frozen=True)
class Webhook:
    id: str
    owner: str
    name: str
    target_url: str
    resource: str
    event: str
    filter: str | None
    secret: str | None
    owned_by: str | None
    status: str
    created: float
    org_id: str
    created_by: str
    app_id: str


@dataclass(frozen=True)
class SigningKeyRow:
    kid: str
    private_pem: str
    created_at: float
    role: str


@dataclass
class RequestLogEntry:
    """One ``/v1`` or ``/idb`` call, written by the middleware once the response is known."""

    at: float
    method: str
    path: str
    query: str
    status: int
    tracking_id: str
    duration_ms: float
    org_id: str | None = None
    client_id: str | None = None
    nonce: str | None = None
    data_source_id: str | None = None
    fault: str | None = None


T = TypeVar("T")


def _to_row(item: Any) -> dict[str, Any]:
    """A dataclass as SQLite parameters: lists as JSON text, booleans as integers."""
    row = {}
    for name, value in vars(item).items():
        if isinstance(value, list):
            value = json.dumps(value)
        elif isinstance(value, bool):
            value = int(value)
        row[name] = value
    return row


@cache
def _decoders(cls: type) -> tuple[tuple[str, str], ...]:
    """``(field name, kind)`` of a dataclass, kind being ``list``, ``bool`` or ``plain``."""
    result = []
    for spec in fields(cls):
        kind = str(spec.type)
        result.append(
            (spec.name, "list" if kind.startswith("list") else kind if kind == "bool" else "plain")
        )
    return tuple(result)


def _from_row(cls: type[T], row: sqlite3.Row) -> T:
    """The dataclass ``cls`` from a row, decoding what :func:`_to_row` encoded."""
    values: dict[str, Any] = {}
    # The same class as a plain `type`: mypy does not see type[T] as Hashable (mypy#11470).
    as_type: type = cls
    for name, kind in _decoders(as_type):
        value = row[name]
        if kind == "list":
            value = json.loads(value) if value else []
        elif kind == "bool":
            value = bool(value)
        values[name] = value
    return cls(**values)


class Store:
    """All emulator state. Methods map one-to-one to what the routes need."""

    def __init__(self, path: str = ":memory:", clock: Clock | None = None) -> None:
        self.path = path
        self.clock = clock or Clock()
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.row_factory = sqlite3.Row
        if path != ":memory:":
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(SCHEMA_SQL)
        self._log_inserts = 0
        self.config = self._load_config()
        self.clock.offset = float(self._meta_get("clock_offset") or 0.0)

    # ----------------------------------------------------------------- plumbing

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self.conn.execute("BEGIN")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def _insert(self, table: str, values: dict[str, Any]) -> int:
        """INSERT one row. Table and column names come from this module, never from input."""
        columns = ", ".join(values)
        placeholders = ", ".join(f":{name}" for name in values)
        sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"  # noqa: S608
        cursor = self.conn.execute(sql, values)
        return int(cursor.lastrowid or 0)

    def _one(self, cls: type[T], sql: str, params: Sequence[Any]) -> T | None:
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else _from_row(cls, row)

    def _all(self, cls: type[T], sql: str, params: Sequence[Any] = ()) -> list[T]:
        return [_from_row(cls, row) for row in self.conn.execute(sql, params)]

    def _meta_get(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row["value"])

    def _meta_set(self, key: str, value: str) -> None:
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def close(self) -> None:
        self.conn.close()

    # ------------------------------------------------------------ config, clock

    def _load_config(self) -> EmulatorConfig:
        raw = self._meta_get("config")
        return EmulatorConfig.from_stored(json.loads(raw)) if raw else EmulatorConfig()

    def save_config(self, config: EmulatorConfig) -> None:
        self.config = config
        self._meta_set("config", json.dumps(asdict(config)))

    def advance_clock(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self._meta_set("clock_offset", repr(self.clock.offset))

    def now(self) -> float:
        return self.clock.now()

    def is_empty(self) -> bool:
        row = self.conn.execute("SELECT COUNT(*) AS n FROM service_apps").fetchone()
        return int(row["n"]) == 0

    def reset(self, keep_keys: bool = True) -> None:
        """Forget the world (apps, orgs, tokens, data sources, webhooks, logs), config and clock."""
        wipe_keys = "" if keep_keys else "DELETE FROM signing_keys;"
        self.conn.executescript(f"BEGIN; {WIPE_WORLD_SQL} {wipe_keys} COMMIT;")
        self.config = EmulatorConfig()
        self.clock.offset = 0.0

    # -------------------------------------------------------------- service apps

    def create_service_app(
        self,
        name: str,
        valid_domains: Sequence[str],
        schema_ids: Sequence[str],
        scopes: Sequence[str],
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> ServiceApp:
        now = self.now()
        app = ServiceApp(
            client_id=client_id or ids.new_client_id(),
            name=name,
            client_secret=client_secret or ids.new_client_secret(),
            valid_domains=list(valid_domains),
            schema_ids=list(schema_ids),
            scopes=list(scopes),
            created_at=now,
            updated_at=now,
        )
        self._insert("service_apps", _to_row(app))
        return app

    def get_app(self, client_id: str) -> ServiceApp | None:
        return self._one(ServiceApp, "SELECT * FROM service_apps WHERE client_id = ?", (client_id,))

    def list_apps(self) -> list[ServiceApp]:
        return self._all(ServiceApp, "SELECT * FROM service_apps ORDER BY created_at, client_id")

    def update_app(
        self,
        client_id: str,
        *,
        name: str | None = None,
        valid_domains: Sequence[str] | None = None,
        schema_ids: Sequence[str] | None = None,
        scopes: Sequence[str] | None = None,
    ) -> ServiceApp | None:
        """Change the app itself. Existing authorizations keep their snapshot (README §5)."""
        current = self.get_app(client_id)
        if current is None:
            return None
        updated = replace(
            current,
            name=current.name if name is None else name,
            valid_domains=current.valid_domains if valid_domains is None else list(valid_domains),
            schema_ids=current.schema_ids if schema_ids is None else list(schema_ids),
            scopes=current.scopes if scopes is None else list(scopes),
            updated_at=self.now(),
        )
        self.conn.execute(
            "UPDATE service_apps SET name = :name, valid_domains = :valid_domains, "
            "schema_ids = :schema_ids, scopes = :scopes, updated_at = :updated_at "
            "WHERE client_id = :client_id",
            _to_row(updated),
        )
        return updated

    # ---------------------------------------------------------------------- orgs

    def create_org(self, name: str, region: str, org_id: str | None = None) -> Org:
        org_id = (org_id or ids.new_uuid()).lower()
        org = Org(id=org_id, name=name, region=region, created_at=self.now())
        self._insert("orgs", _to_row(org))
        return org

    def get_org(self, org_id: str) -> Org | None:
        return self._one(Org, "SELECT * FROM orgs WHERE id = ?", (org_id,))

    def list_orgs(self) -> list[Org]:
        return self._all(Org, "SELECT * FROM orgs ORDER BY created_at, id")

    # ------------------------------------------------------------ authorizations

    def _authorization_event(self, authorization: Authorization, event: str, at: float) -> None:
        self._insert(
            "authorization_events",
            {
                "client_id": authorization.client_id,
                "org_id": authorization.org_id,
                "event": event,
                "at": at,
                "valid_domains": json.dumps(authorization.valid_domains),
                "schema_ids": json.dumps(authorization.schema_ids),
            },
        )

    def authorize(self, app: ServiceApp, org_id: str, authorizer_id: str) -> Authorization:
        """Record (or renew) an org's authorization with a snapshot of the app as it is now."""
        authorization = Authorization(
            client_id=app.client_id,
            org_id=org_id,
            authorizer_id=authorizer_id,
            authorization_date=self.now(),
            valid_domains=list(app.valid_domains),
            schema_ids=list(app.schema_ids),
            active=True,
            deauthorized_at=None,
        )
        with self._tx() as conn:
            conn.execute(
                "DELETE FROM authorizations WHERE client_id = ? AND org_id = ?",
                (app.client_id, org_id),
            )
            self._insert("authorizations", _to_row(authorization))
            self._authorization_event(authorization, "authorized", authorization.authorization_date)
        return authorization

    def deauthorize(self, client_id: str, org_id: str) -> Authorization | None:
        """End an authorization and revoke every token the app holds for that org."""
        current = self.get_authorization(client_id, org_id)
        if current is None:
            return None
        now = self.now()
        ended = replace(current, active=False, deauthorized_at=now)
        with self._tx() as conn:
            conn.execute(
                "UPDATE authorizations SET active = 0, deauthorized_at = ? "
                "WHERE client_id = ? AND org_id = ?",
                (now, client_id, org_id),
            )
            self._authorization_event(ended, "deauthorized", now)
            conn.execute(
                "UPDATE tokens SET revoked_at = ?, revoked_reason = 'deauthorized' "
                "WHERE client_id = ? AND org_id = ? AND revoked_at IS NULL",
                (now, client_id, org_id),
            )
        return ended

    def get_authorization(self, client_id: str, org_id: str) -> Authorization | None:
        """The active authorization of ``org_id`` for the app, if any."""
        return self._one(
            Authorization,
            "SELECT * FROM authorizations WHERE client_id = ? AND org_id = ? AND active = 1",
            (client_id, org_id),
        )

    def list_authorizations(
        self, client_id: str | None = None, include_inactive: bool = False
    ) -> list[Authorization]:
        return self._all(
            Authorization,
            "SELECT * FROM authorizations WHERE (? IS NULL OR client_id = ?) "
            "AND (? OR active = 1) ORDER BY authorization_date",
            (client_id, client_id, int(include_inactive)),
        )

    def list_authorization_events(self) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT * FROM authorization_events ORDER BY seq")
        return [dict(row) for row in rows]

    # -------------------------------------------------------------------- tokens

    def _issue(
        self,
        kind: str,
        lifetime_seconds: float,
        *,
        org_id: str,
        scopes: Sequence[str],
        client_id: str | None = None,
        person_id: str | None = None,
        refresh_token: str | None = None,
    ) -> Token:
        now = self.now()
        token = Token(
            value=ids.new_bearer_token(org_id),
            kind=kind,
            client_id=client_id,
            org_id=org_id,
            person_id=person_id,
            scopes=list(scopes),
            issued_at=now,
            expires_at=now + lifetime_seconds,
            revoked_at=None,
            revoked_reason=None,
            refresh_token=refresh_token,
        )
        self._insert("tokens", _to_row(token))
        return token

    def issue_access_token(self, app: ServiceApp, org_id: str, refresh_token: str | None) -> Token:
        return self._issue(
            "access",
            self.config.access_token_lifetime_seconds,
            org_id=org_id,
            scopes=app.scopes,
            client_id=app.client_id,
            refresh_token=refresh_token,
        )

    def issue_refresh_token(self, app: ServiceApp, org_id: str) -> Token:
        return self._issue(
            "refresh",
            self.config.refresh_token_lifetime_seconds,
            org_id=org_id,
            scopes=app.scopes,
            client_id=app.client_id,
        )

    def issue_integration_token(
        self,
        scopes: Sequence[str],
        lifetime_seconds: int,
        person_id: str,
        org_id: str,
        *,
        client_id: str | None = None,
        refresh_token: str | None = None,
    ) -> Token:
        return self._issue(
            "integration",
            lifetime_seconds,
            org_id=org_id,
            scopes=scopes,
            person_id=person_id,
            client_id=client_id,
            refresh_token=refresh_token,
        )

    def issue_integration_refresh_token(self, client: IntegrationClient) -> Token:
        """A refresh token of the integration client, for its person and scopes."""
        return self._issue(
            "integration_refresh",
            self.config.refresh_token_lifetime_seconds,
            org_id=client.org_id,
            scopes=client.scopes,
            person_id=client.person_id,
            client_id=client.client_id,
        )

    def issue_refreshable_integration_token(
        self, scopes: Sequence[str], lifetime_seconds: int, person_id: str, org_id: str
    ) -> tuple[IntegrationClient, Token, Token]:
        """A new integration client and its first ``(access, refresh)`` token pair, atomically."""
        client = IntegrationClient(
            client_id=ids.new_client_id(),
            client_secret=ids.new_client_secret(),
            person_id=person_id,
            org_id=org_id,
            scopes=list(scopes),
            access_token_lifetime_seconds=lifetime_seconds,
            created_at=self.now(),
        )
        with self._tx():
            self._insert("integration_clients", _to_row(client))
            refresh = self.issue_integration_refresh_token(client)
            access = self.issue_integration_access_token(client, refresh.value)
        return client, access, refresh

    def issue_integration_access_token(
        self, client: IntegrationClient, refresh_token: str
    ) -> Token:
        """An integration access token of the client's person and scopes (issuance or refresh)."""
        return self.issue_integration_token(
            client.scopes,
            client.access_token_lifetime_seconds,
            client.person_id,
            client.org_id,
            client_id=client.client_id,
            refresh_token=refresh_token,
        )

    def get_integration_client(self, client_id: str) -> IntegrationClient | None:
        return self._one(
            IntegrationClient,
            "SELECT * FROM integration_clients WHERE client_id = ?",
            (client_id,),
        )

    def list_integration_clients(self) -> list[IntegrationClient]:
        return self._all(
            IntegrationClient, "SELECT * FROM integration_clients ORDER BY created_at, client_id"
        )

    def get_token(self, value: str) -> Token | None:
        return self._one(Token, "SELECT * FROM tokens WHERE value = ?", (value,))

    def extend_token(self, value: str, expires_at: float) -> None:
        self.conn.execute("UPDATE tokens SET expires_at = ? WHERE value = ?", (expires_at, value))

    def revoke_token(self, value: str, reason: str) -> None:
        self.conn.execute(
            "UPDATE tokens SET revoked_at = ?, revoked_reason = ? "
            "WHERE value = ? AND revoked_at IS NULL",
            (self.now(), reason, value),
        )

    def list_tokens(self) -> list[Token]:
        return self._all(Token, "SELECT * FROM tokens ORDER BY issued_at")

    # -------------------------------------------------------------- data sources

    def insert_data_source(self, source: DataSource, tracking_id: str) -> None:
        with self._tx():
            self._insert("data_sources", _to_row(source))
            self._record_nonce(source, "register", tracking_id)

    def update_data_source(self, source: DataSource, tracking_id: str) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE data_sources SET url = :url, audience = :audience, subject = :subject, "
                "nonce = :nonce, token_lifetime_minutes = :token_lifetime_minutes, "
                "status = :status, error_message = :error_message, jws_token = :jws_token, "
                "token_expiry = :token_expiry, kid = :kid, updated_by = :updated_by, "
                "updated_at = :updated_at WHERE id = :id",
                _to_row(source),
            )
            self._record_nonce(source, "update", tracking_id)

    def _record_nonce(self, source: DataSource, operation: str, tracking_id: str) -> None:
        self._insert(
            "nonce_history",
            {
                "data_source_id": source.id,
                "org_id": source.org_id,
                "client_id": source.client_id,
                "nonce": source.nonce,
                "operation": operation,
                "kid": source.kid,
                "at": source.updated_at,
                "tracking_id": tracking_id,
            },
        )

    def get_data_source(
        self, data_source_id: str, client_id: str, org_id: str
    ) -> DataSource | None:
        """A data source, but only within the caller's (org, app): others do not exist for it."""
        return self._one(
            DataSource,
            "SELECT * FROM data_sources WHERE id = ? AND client_id = ? AND org_id = ?",
            (data_source_id, client_id, org_id),
        )

    def list_data_sources(
        self, client_id: str, org_id: str, offset: int, limit: int
    ) -> tuple[list[DataSource], bool]:
        """One page of the caller's data sources and whether more follow."""
        items = self._all(
            DataSource,
            "SELECT * FROM data_sources WHERE client_id = ? AND org_id = ? ORDER BY seq "
            "LIMIT ? OFFSET ?",
            (client_id, org_id, limit + 1, offset),
        )
        return items[:limit], len(items) > limit

    def data_source_by_id(self, data_source_id: str) -> DataSource | None:
        """Any data source by id (the control surface only: it is not scoped to a caller)."""
        return self._one(DataSource, "SELECT * FROM data_sources WHERE id = ?", (data_source_id,))

    def all_data_sources(self) -> list[DataSource]:
        return self._all(DataSource, "SELECT * FROM data_sources ORDER BY seq")

    def delete_data_source(self, data_source_id: str) -> None:
        self.conn.execute("DELETE FROM data_sources WHERE id = ?", (data_source_id,))

    def nonce_history(self, data_source_id: str | None = None) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT * FROM nonce_history WHERE (? IS NULL OR data_source_id = ?) ORDER BY seq",
            (data_source_id, data_source_id),
        )
        return [dict(row) for row in rows]

    # ------------------------------------------------------------------ webhooks

    def insert_webhook(self, hook: Webhook) -> None:
        self._insert("webhooks", _to_row(hook))

    def update_webhook(self, hook: Webhook) -> None:
        self.conn.execute(
            "UPDATE webhooks SET name = :name, target_url = :target_url, secret = :secret, "
            "owned_by = :owned_by, status = :status WHERE id = :id",
            _to_row(hook),
        )

    def get_webhook(self, webhook_id: str, owner: str) -> Webhook | None:
        return self._one(
            Webhook, "SELECT * FROM webhooks WHERE id = ? AND owner = ?", (webhook_id, owner)
        )

    def list_webhooks(
        self,
        owner: str | None,
        offset: int = 0,
        limit: int = 1_000_000,
        owned_by: str | None = None,
    ) -> tuple[list[Webhook], bool]:
        items = self._all(
            Webhook,
            "SELECT * FROM webhooks WHERE (? IS NULL OR owner = ?) "
            "AND (? IS NULL OR owned_by = ?) ORDER BY seq LIMIT ? OFFSET ?",
            (owner, owner, owned_by, owned_by, limit + 1, offset),
        )
        return items[:limit], len(items) > limit

    def delete_webhook(self, webhook_id: str) -> None:
        self.conn.execute("DELETE FROM webhooks WHERE id = ?", (webhook_id,))

    def webhooks_for_event(self, resource: str, event: str) -> list[Webhook]:
        return self._all(
            Webhook,
            "SELECT * FROM webhooks WHERE resource = ? AND event IN (?, 'all') "
            "AND status = 'active' ORDER BY seq",
            (resource, event),
        )

    # -------------------------------------------------------- webhook deliveries

    def insert_delivery(
        self, event_id: str, hook: Webhook, event: str, payload: str, signed: bool
    ) -> int:
        now = self.now()
        return self._insert(
            "webhook_deliveries",
            {
                "event_id": event_id,
                "webhook_id": hook.id,
                "resource": hook.resource,
                "event": event,
                "target_url": hook.target_url,
                "payload": payload,
                "signed": int(signed),
                "state": "pending",
                "attempts": 0,
                "attempt_log": "[]",
                "created_at": now,
                "updated_at": now,
            },
        )

    def record_delivery_attempt(
        self, delivery_id: int, state: str, status: int | None, error: str | None
    ) -> None:
        row = self.conn.execute(
            "SELECT attempts, attempt_log FROM webhook_deliveries WHERE id = ?", (delivery_id,)
        ).fetchone()
        if row is None:  # wiped by a reset while the delivery was in flight
            return
        now = self.now()
        log = json.loads(row["attempt_log"])
        log.append({"at": now, "status": status, "error": error})
        self.conn.execute(
            "UPDATE webhook_deliveries SET state = ?, attempts = ?, last_status = ?, "
            "last_error = ?, attempt_log = ?, updated_at = ? WHERE id = ?",
            (state, int(row["attempts"]) + 1, status, error, json.dumps(log), now, delivery_id),
        )

    def list_deliveries(self) -> list[dict[str, Any]]:
        result = []
        for row in self.conn.execute("SELECT * FROM webhook_deliveries ORDER BY id"):
            data = dict(row)
            data["attempt_log"] = json.loads(data["attempt_log"])
            data["signed"] = bool(data["signed"])
            result.append(data)
        return result

    # -------------------------------------------------------------- signing keys

    def signing_keys(self) -> list[SigningKeyRow]:
        return self._all(SigningKeyRow, "SELECT * FROM signing_keys ORDER BY created_at")

    def add_signing_key(self, kid: str, private_pem: str) -> None:
        """Make ``kid`` current; the old current becomes previous, older ones retire."""
        with self._tx() as conn:
            conn.execute("UPDATE signing_keys SET role = 'retired' WHERE role = 'previous'")
            conn.execute("UPDATE signing_keys SET role = 'previous' WHERE role = 'current'")
            key = SigningKeyRow(
                kid=kid, private_pem=private_pem, created_at=self.now(), role="current"
            )
            self._insert("signing_keys", _to_row(key))

    # --------------------------------------------------------------- request log

    def log_request(self, entry: RequestLogEntry) -> None:
        self._insert("request_log", _to_row(entry))
        self._log_inserts += 1
        if self._log_inserts % 1000 == 0:
            self.conn.execute(
                "DELETE FROM request_log WHERE id <= (SELECT MAX(id) FROM request_log) - ?",
                (REQUEST_LOG_MAX_ROWS,),
            )

    def request_log(
        self,
        path: str | None = None,
        method: str | None = None,
        org_id: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Logged calls, oldest first; ``path`` matches a substring, ``limit`` keeps the newest."""
        rows = self.conn.execute(
            "SELECT * FROM (SELECT * FROM request_log "
            "WHERE (? IS NULL OR instr(path, ?) > 0) AND (? IS NULL OR method = ?) "
            "AND (? IS NULL OR org_id = ?) ORDER BY id DESC LIMIT ?) ORDER BY id",
            (
                path or None,
                path,
                method.upper() if method else None,
                method.upper() if method else None,
                org_id or None,
                org_id,
                -1 if limit is None else limit,
            ),
        )
        return [dict(row) for row in rows]

    def clear_request_log(self) -> None:
        self.conn.execute("DELETE FROM request_log")
