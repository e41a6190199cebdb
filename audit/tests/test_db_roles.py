"""The audit trail cannot be rewritten by the role the portal runs as.

A database of its own is created for this module, owned by the owner role and migrated the way
production does it: `manage.py migrate` with DATABASE_URL naming the runtime role and
DATABASE_OWNER_URL the owner (which also grants the runtime role). Then, connected as the
runtime role, PostgreSQL itself refuses every way of rewriting the trail, while the portal's
audit service, run in a process of its own as that role, still appends and advances the chain.

The roles: PORTAL_TEST_DB_OWNER_URL / PORTAL_TEST_DB_RUNTIME_URL when set (`.ci/run` creates
them with deploy/postgres/init-roles.sql), else created here if the suite's own role may. Under
CI=true this module must run on PostgreSQL: a missing role is a failure, not a skip.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings
from psycopg import errors, sql
from psycopg.conninfo import conninfo_to_dict

ROOT = Path(__file__).resolve().parents[2]
CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
FALLBACK_ROLES = ("byods_test_owner", "byods_test_runtime")


def _unavailable(reason: str):
    if CI:
        pytest.fail(f"the database role split must be tested under CI: {reason}")
    pytest.skip(reason)


def _url(info: dict, dbname: str) -> str:
    auth = quote(info["user"], safe="")
    if info.get("password"):
        auth += ":" + quote(info["password"], safe="")
    return f"postgres://{auth}@{info['host']}:{info['port']}/{dbname}"


def _suite_info() -> dict:
    db = settings.DATABASES["default"]
    return {
        "user": db["USER"],
        "password": db.get("PASSWORD") or "",
        "host": db.get("HOST") or "127.0.0.1",
        "port": str(db.get("PORT") or 5432),
    }


def _role_info(variable: str, fallback_role: str) -> dict:
    url = os.environ.get(variable, "")
    suite = _suite_info()
    if not url:
        return suite | {"user": fallback_role, "password": ""}
    parsed = conninfo_to_dict(url)
    return {
        "user": parsed["user"],
        "password": parsed.get("password", ""),
        "host": parsed.get("host", suite["host"]),
        "port": str(parsed.get("port", suite["port"])),
    }


def _admin():
    info = _suite_info()
    return psycopg.connect(
        dbname="postgres",
        user=info["user"],
        password=info["password"] or None,
        host=info["host"],
        port=info["port"],
        autocommit=True,
    )


def _ensure_fallback_roles(admin) -> None:
    for role in FALLBACK_ROLES:
        # Made by an earlier (or a parallel) run: roles are cluster-wide.
        with contextlib.suppress(errors.DuplicateObject):
            admin.execute(
                sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE").format(
                    sql.Identifier(role)
                )
            )


def _portal_env(runtime_url: str, owner_url: str = "") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "PYTEST"))}
    env.update(
        DJANGO_SETTINGS_MODULE="byods_portal.settings",  # production's settings, not the suite's
        PORTAL_READ_DOTENV="false",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=settings.SECRET_KEY,
        PORTAL_ENCRYPTION_KEYS=settings.PORTAL_ENCRYPTION_KEYS,
        SENTRY_DSN="",
        DATABASE_URL=runtime_url,
    )
    if owner_url:
        env["DATABASE_OWNER_URL"] = owner_url
    return env


def _manage(env: dict[str, str], *args: str, stdin: str | None = None):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def split():
    if not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        pytest.skip("database roles exist on PostgreSQL only (this run is on SQLite)")
    owner = _role_info("PORTAL_TEST_DB_OWNER_URL", FALLBACK_ROLES[0])
    runtime = _role_info("PORTAL_TEST_DB_RUNTIME_URL", FALLBACK_ROLES[1])
    dbname = f"{settings.DATABASES['default']['TEST']['NAME'] or 'test_byods'}_roles"
    try:
        admin = _admin()
    except psycopg.Error as exc:
        _unavailable(f"cannot connect to PostgreSQL as the suite's role: {exc}")
    with admin:
        try:
            if not os.environ.get("PORTAL_TEST_DB_OWNER_URL"):
                _ensure_fallback_roles(admin)
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(dbname)))  # fmt: skip
            admin.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(dbname), sql.Identifier(owner["user"])))  # fmt: skip
        except psycopg.Error as exc:
            _unavailable(f"cannot create the roles or the database {dbname}: {exc}")
    owner_url, runtime_url = _url(owner, dbname), _url(runtime, dbname)
    migrated = _manage(_portal_env(runtime_url, owner_url), "migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stdout[-2000:] + migrated.stderr[-4000:]
    assert "Migrating as the owner role" in migrated.stdout
    assert f"Granted {runtime['user']} the runtime privileges" in migrated.stdout
    yield {
        "dbname": dbname,
        "owner": owner,
        "runtime": runtime,
        "runtime_url": runtime_url,
        "owner_url": owner_url,
    }
    with _admin() as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(dbname)))  # fmt: skip


def _connect(split, who: str):
    info = split[who]
    return psycopg.connect(
        dbname=split["dbname"],
        user=info["user"],
        password=info["password"] or None,
        host=info["host"],
        port=info["port"],
        autocommit=True,
    )


RECORD = """
import json
from django.db import transaction
from audit.context import Actor
from audit.selectors import audit_chain_head
from audit.services import audit_record, audit_record_many
from audit.vocabulary import Action

actor = Actor.system("roles-test")
before = audit_chain_head()
with transaction.atomic():
    one = audit_record(action=Action.ORG_ONBOARDED, summary="as the runtime role", actor=actor)
with transaction.atomic():
    entries = [{"action": Action.ORG_ONBOARDED, "summary": n, "actor": actor} for n in "abc"]
    many = audit_record_many(entries)
print("RESULT " + json.dumps({"before": before, "after": audit_chain_head(),
      "ids": [one.id] + [e.id for e in many], "last_hash": many[-1].hash}))
"""


def _record_as_runtime(split) -> dict:
    done = _manage(_portal_env(split["runtime_url"]), "shell", stdin=RECORD)
    assert done.returncode == 0, done.stderr[-4000:]
    (line,) = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
    return json.loads(line.removeprefix("RESULT "))


def test_the_runtime_role_owns_nothing_and_is_no_superuser(split):
    with _connect(split, "runtime") as conn:
        owned = conn.execute(
            "SELECT c.relname FROM pg_class c WHERE pg_get_userbyid(c.relowner) = current_user"
        ).fetchall()
        superuser = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        assert owned == [] and superuser.fetchone() == (False,)
        grants = dict(
            conn.execute(
                "SELECT table_name, string_agg(privilege_type, ',' ORDER BY privilege_type) "
                "FROM information_schema.role_table_grants WHERE grantee = current_user "
                "AND table_name IN ('audit_auditevent', 'audit_auditchainhead', "
                "'tenants_customerorg') GROUP BY table_name"
            ).fetchall()
        )
    assert grants == {
        "audit_auditevent": "INSERT,SELECT",
        "audit_auditchainhead": "SELECT",
        "tenants_customerorg": "DELETE,INSERT,SELECT,UPDATE",
    }


def test_recording_as_the_runtime_role_appends_and_advances_the_chain(split):
    result = _record_as_runtime(split)
    before_id, _ = result["before"]
    assert result["ids"] == sorted(result["ids"]) and result["ids"][0] > before_id
    assert result["after"] == [result["ids"][-1], result["last_hash"]]
    with _connect(split, "owner") as conn:
        head = conn.execute(
            "SELECT last_event_id, last_hash FROM audit_auditchainhead WHERE id = 1"
        ).fetchone()
    assert list(head) == result["after"]
    verified = _manage(_portal_env(split["runtime_url"]), "audit_verify")
    assert verified.returncode == 0, verified.stderr
    assert f"head #{result['ids'][-1]} sha256 {result['last_hash']}" in verified.stdout


REFUSED = [
    ("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_no_update", "must be owner"),
    ("ALTER TABLE audit_auditevent DISABLE TRIGGER ALL", "must be owner"),
    ("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_advance_head", "must be owner"),
    ("DROP TRIGGER audit_event_no_update ON audit_auditevent", "must be owner"),
    ("UPDATE audit_auditevent SET summary = 'forged'", "permission denied"),
    ("DELETE FROM audit_auditevent", "permission denied"),
    ("TRUNCATE audit_auditevent", "permission denied"),
    ("UPDATE audit_auditchainhead SET last_hash = repeat('f', 64)", "permission denied"),
    ("DELETE FROM audit_auditchainhead", "permission denied"),
    ("TRUNCATE audit_auditchainhead", "permission denied"),
    (
        "INSERT INTO audit_auditchainhead (id, last_event_id, last_hash, updated_at) "
        "VALUES (2, 0, repeat('f', 64), now())",
        "permission denied",
    ),
    ("SELECT * FROM audit_auditchainhead FOR UPDATE", "permission denied"),
    ("SELECT setval('audit_auditevent_id_seq', 1)", "permission denied"),
    ("DROP FUNCTION audit_chain_head_advance()", "must be owner"),
    ("ALTER FUNCTION audit_chain_head_lock() SECURITY INVOKER", "must be owner"),
    ("SELECT audit_chain_head_advance()", "permission denied"),
]


@pytest.mark.parametrize(("statement", "refusal"), REFUSED, ids=[s for s, _ in REFUSED])
def test_postgresql_refuses_the_runtime_role_every_rewrite(split, statement, refusal):
    with _connect(split, "runtime") as conn:
        conn.execute("SELECT count(*) FROM audit_auditevent")  # reading is allowed
        with pytest.raises(errors.InsufficientPrivilege, match=refusal):
            conn.execute(statement)


def test_an_event_that_does_not_continue_the_chain_is_refused(split):
    _record_as_runtime(split)  # something to link to
    with _connect(split, "runtime") as conn, conn.transaction():
        last_id, last_hash = conn.execute("SELECT * FROM audit_chain_head_lock()").fetchone()
        row = {
            "public_id": uuid.uuid4(),
            "actor_type": "system",
            "actor": "system:forger",
            "action": "org.onboarded",
            "summary": "forged",
            "changes": "{}",
            "outcome": "ok",
            "correlation_id": uuid.uuid4(),
            "prev_hash": "f" * 64,  # not the head's hash
            "hash": "e" * 64,
        }
        with pytest.raises(errors.IntegrityConstraintViolation, match="does not continue"):
            conn.execute(
                "INSERT INTO audit_auditevent (public_id, occurred_at, actor_type, actor, "
                "actor_id, action, target_type, target_id, target_label, summary, reason, "
                "changes, outcome, error, tracking_id, correlation_id, prev_hash, hash) VALUES "
                "(%(public_id)s, now(), %(actor_type)s, %(actor)s, '', %(action)s, '', '', '', "
                "%(summary)s, '', %(changes)s, %(outcome)s, '', '', %(correlation_id)s, "
                "%(prev_hash)s, %(hash)s)",
                row,
            )
        assert last_hash != "f" * 64 and last_id > 0


def test_grant_runtime_role_refuses_a_superuser_and_is_repeatable(split):
    env = _portal_env(split["runtime_url"], split["owner_url"])
    refused = _manage(env, "grant_runtime_role", _suite_info()["user"])
    assert refused.returncode != 0 and "superuser" in refused.stderr
    again = _manage(env, "grant_runtime_role", split["runtime"]["user"])
    assert again.returncode == 0, again.stderr
    assert "append-only: audit_auditevent" in again.stdout
    test_the_runtime_role_owns_nothing_and_is_no_superuser(split)
