-- The portal's two database roles (README, "The two database roles"). Run as a superuser:
--
--   psql -v ON_ERROR_STOP=1 -d byods -f deploy/postgres/init-roles.sql
--
-- or let the postgres image run it at first start (docker-compose.yml mounts it into
-- /docker-entrypoint-initdb.d/). Idempotent: roles that exist keep their settings, get the
-- password again if one is given.
--
-- Variables (psql -v name=value), each with a default:
--   owner_role        byods_owner   owns the tables; `migrate` connects as it (DATABASE_OWNER_URL)
--   runtime_role      byods_app     what the portal runs as (DATABASE_URL); owns nothing
--   owner_password    env BYODS_OWNER_PASSWORD (unset: no password, e.g. local trust auth)
--   runtime_password  env BYODS_APP_PASSWORD
--   database          env POSTGRES_DB: handed to the owner role (unset: left as it is)
--
-- After it: migrate as the owner, then `manage.py grant_runtime_role <runtime_role>` (migrate
-- does that itself when DATABASE_OWNER_URL is set).

\set ON_ERROR_STOP on
\if :{?owner_role}
\else
  \set owner_role byods_owner
\endif
\if :{?runtime_role}
\else
  \set runtime_role byods_app
\endif
\if :{?owner_password}
\else
  \getenv owner_password BYODS_OWNER_PASSWORD
\endif
\if :{?runtime_password}
\else
  \getenv runtime_password BYODS_APP_PASSWORD
\endif
\if :{?database}
\else
  \getenv database POSTGRES_DB
\endif

-- The owner: creates and alters the schema; no superuser, so it cannot bypass anything it does
-- not own either.
SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS', :'owner_role')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'owner_role')
\gexec
-- The runtime role: owns nothing and is given table privileges by grant_runtime_role, so it can
-- neither disable the audit triggers nor TRUNCATE, UPDATE or DELETE the audit tables.
SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS',
              :'runtime_role')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'runtime_role')
\gexec

\if :{?owner_password}
  SELECT format('ALTER ROLE %I PASSWORD %L', :'owner_role', :'owner_password') \gexec
\endif
\if :{?runtime_password}
  SELECT format('ALTER ROLE %I PASSWORD %L', :'runtime_role', :'runtime_password') \gexec
\endif

-- The database and its public schema (owned by pg_database_owner since PostgreSQL 15) belong to
-- the owner; the runtime role may connect and use the schema, never create in it.
\if :{?database}
  SELECT format('ALTER DATABASE %I OWNER TO %I', :'database', :'owner_role') \gexec
  SELECT format('GRANT CONNECT ON DATABASE %I TO %I', :'database', :'runtime_role') \gexec
\endif
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SELECT format('GRANT USAGE ON SCHEMA public TO %I', :'runtime_role') \gexec
