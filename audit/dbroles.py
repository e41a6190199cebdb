"""The two database roles: an owner that runs migrations, a runtime role the portal runs as.

The runtime role (DATABASE_URL) owns no table, so PostgreSQL refuses it `ALTER TABLE ... DISABLE
TRIGGER`, `DROP TRIGGER` and `TRUNCATE`; `grant_runtime_role` gives it only SELECT and INSERT on
the audit events and only SELECT on the chain head, which advances through functions owned by
the owner (migration audit/0008). The owner (DATABASE_OWNER_URL) is used by schema commands only:
`migrate` and `grant_runtime_role` call `connect_as_owner()` first, which points this process's
default connection at the owner, so migrations, their data steps and the post-migrate signals all
run as the owner, on the same database.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

from .models import AuditChainHead, AuditEvent

#: Tables the runtime role may read and append to, never change.
APPEND_ONLY_TABLES = (AuditEvent._meta.db_table,)
#: Tables the runtime role may only read (the head advances through the owner's functions).
READ_ONLY_TABLES = (AuditChainHead._meta.db_table, "django_migrations")
#: SECURITY DEFINER functions the runtime role calls (migration audit/0008).
RUNTIME_FUNCTIONS = ("audit_chain_head_lock()",)


def connect_as_owner(alias: str = DEFAULT_DB_ALIAS) -> bool:
    """Point this process's `alias` connection at DATABASE_OWNER_URL, if one is configured.

    Only credentials and address change hands; the connection's other settings stay. Returns
    whether it switched. Meant for one-shot schema commands: the process keeps the owner's
    connection until it ends.
    """
    owner = settings.DATABASE_OWNER
    if not owner:
        return False
    connection = connections[alias]
    connection.close()
    for key in ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT"):
        if key in owner:
            connection.settings_dict[key] = owner[key]
    if owner.get("OPTIONS"):
        connection.settings_dict.setdefault("OPTIONS", {}).update(owner["OPTIONS"])
    return True


@dataclass(frozen=True)
class GrantReport:
    schema: str
    tables: int
    append_only: tuple[str, ...]
    read_only: tuple[str, ...]
    sequences: int


class RoleError(Exception):
    """The runtime role cannot be given the portal's grants safely (named in the message)."""


def grant_runtime_role(role: str, *, alias: str = DEFAULT_DB_ALIAS) -> GrantReport:
    """As the owner: give `role` what the portal needs and nothing that rewrites the audit trail.

    Every ordinary table in the current schema: SELECT, INSERT, UPDATE, DELETE. The audit events:
    SELECT, INSERT. The chain head and Django's migration record: SELECT. Sequences: USAGE (which
    allows nextval, not setval). The chain head's lock function: EXECUTE. Grants held before are
    revoked first, so running it again (after every migrate) leaves exactly this set.
    """
    from psycopg import sql

    connection = connections[alias]
    if connection.vendor != "postgresql":
        raise RoleError("database roles exist on PostgreSQL only")
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = %s", [role])
        row = cursor.fetchone()
        if row is None:
            raise RoleError(f"role {role!r} does not exist (deploy/postgres/init-roles.sql)")
        if row[0] or row[1]:
            raise RoleError(f"role {role!r} is a superuser: no grant could limit it")
        cursor.execute("SELECT current_user, current_schema()")
        me, schema = cursor.fetchone()
        if me == role:
            raise RoleError(f"role {role!r} is the one running this command: that is the owner")
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND pg_get_userbyid(c.relowner) = %s",
            [schema, role],
        )
        owned = [name for (name,) in cursor.fetchall()]
        if owned:
            raise RoleError(
                f"role {role!r} owns {', '.join(sorted(owned)[:5])}: the owner of a table may "
                "disable its triggers; REASSIGN OWNED BY it TO the owner role first"
            )
        cursor.execute("SELECT pg_has_role(%s, %s, 'MEMBER')", [role, me])
        if cursor.fetchone()[0]:
            raise RoleError(f"role {role!r} is a member of the owner role {me!r}")
        cursor.execute(
            "SELECT c.relname, c.relkind FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'S')",
            [schema],
        )
        relations = cursor.fetchall()
        tables = [name for name, kind in relations if kind != "S"]
        sequences = [name for name, kind in relations if kind == "S"]

        who = sql.Identifier(role)
        ns = sql.Identifier(schema)
        statements = [
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(ns, who),
            sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(ns, who),
            sql.SQL("REVOKE ALL ON ALL SEQUENCES IN SCHEMA {} FROM {}").format(ns, who),
            sql.SQL("GRANT USAGE ON ALL SEQUENCES IN SCHEMA {} TO {}").format(ns, who),
        ]
        for table in tables:
            if table in APPEND_ONLY_TABLES:
                privileges = "SELECT, INSERT"
            elif table in READ_ONLY_TABLES:
                privileges = "SELECT"
            else:
                privileges = "SELECT, INSERT, UPDATE, DELETE"
            statements.append(
                sql.SQL("GRANT " + privileges + " ON {}.{} TO {}").format(
                    ns, sql.Identifier(table), who
                )
            )
        for function in RUNTIME_FUNCTIONS:
            statements.append(
                sql.SQL("GRANT EXECUTE ON FUNCTION {}." + function + " TO {}").format(ns, who)
            )
        for statement in statements:
            cursor.execute(statement.as_string(cursor.cursor))
    return GrantReport(
        schema=schema,
        tables=len(tables),
        append_only=tuple(t for t in APPEND_ONLY_TABLES if t in tables),
        read_only=tuple(t for t in READ_ONLY_TABLES if t in tables),
        sequences=len(sequences),
    )
