"""Let the chain head advance without the portal's runtime role being able to write it.

With two database roles (README, "The two database roles"), the runtime role may only SELECT
and INSERT audit events and only SELECT the chain head. Two functions owned by the owner
(migrations run as the owner) do what needs more:

- `audit_chain_head_lock()`, SECURITY DEFINER: locks the head row (creating it if missing) and
  returns it. An append calls it first, so appends stay serialized on the head's row lock
  (SELECT ... FOR UPDATE needs UPDATE privilege, which the runtime role does not have).
- `audit_chain_head_advance()`, a statement-level AFTER INSERT trigger, SECURITY DEFINER: checks
  that the new events continue the chain (the first links to the head, each to the one before)
  and moves the head to the newest. One head update per statement, however many rows a COPY or
  bulk insert brings.

Both run with a fixed search_path (the schema the tables live in), as SECURITY DEFINER functions
must, and EXECUTE is taken away from PUBLIC (`grant_runtime_role` gives it to the runtime role).
SQLite has neither roles nor these functions: there the service advances the head itself.
"""

from django.db import migrations, models

PG_FORWARD = """
CREATE OR REPLACE FUNCTION audit_chain_head_lock(OUT last_event_id bigint, OUT last_hash varchar)
RETURNS record LANGUAGE plpgsql SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
BEGIN
    -- A missing head (a fresh or flushed database) starts at the newest event, else genesis.
    INSERT INTO audit_auditchainhead (id, last_event_id, last_hash, updated_at)
        SELECT 1, coalesce(max(e.id), 0),
               coalesce((SELECT n.hash FROM audit_auditevent n ORDER BY n.id DESC LIMIT 1),
                        repeat('0', 64)),
               now()
        FROM audit_auditevent e
        ON CONFLICT (id) DO NOTHING;
    SELECT h.last_event_id, h.last_hash INTO last_event_id, last_hash
        FROM audit_auditchainhead h WHERE h.id = 1 FOR UPDATE;
END
$$;
REVOKE ALL ON FUNCTION audit_chain_head_lock() FROM PUBLIC;

CREATE OR REPLACE FUNCTION audit_chain_head_advance() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
DECLARE
    head record;
    broken bigint;
    newest record;
BEGIN
    SELECT h.last_event_id, h.last_hash INTO head
        FROM audit_auditchainhead h WHERE h.id = 1 FOR UPDATE;
    IF NOT FOUND THEN
        SELECT 0::bigint AS last_event_id, repeat('0', 64)::varchar AS last_hash INTO head;
    END IF;
    SELECT n.id INTO broken FROM (
        SELECT e.id, e.prev_hash,
               lag(e.hash, 1, head.last_hash::varchar) OVER (ORDER BY e.id) AS expected
        FROM new_events e
    ) n WHERE n.prev_hash IS DISTINCT FROM n.expected ORDER BY n.id LIMIT 1;
    IF broken IS NOT NULL THEN
        RAISE EXCEPTION 'audit event #% does not continue the audit chain (head #%)',
            broken, head.last_event_id USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    SELECT e.id, e.hash INTO newest FROM new_events e ORDER BY e.id DESC LIMIT 1;
    IF FOUND THEN
        INSERT INTO audit_auditchainhead (id, last_event_id, last_hash, updated_at)
            VALUES (1, newest.id, newest.hash, now())
            ON CONFLICT (id) DO UPDATE SET last_event_id = EXCLUDED.last_event_id,
                last_hash = EXCLUDED.last_hash, updated_at = EXCLUDED.updated_at;
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION audit_chain_head_advance() FROM PUBLIC;

CREATE TRIGGER audit_event_advance_head AFTER INSERT ON audit_auditevent
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_chain_head_advance();
"""
PG_BACKWARD = """
DROP TRIGGER IF EXISTS audit_event_advance_head ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_chain_head_advance();
DROP FUNCTION IF EXISTS audit_chain_head_lock();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        (schema,) = cursor.fetchone()
    sql = PG_FORWARD.replace("{schema}", schema_editor.quote_name(schema))
    schema_editor.execute(sql, params=None)  # no placeholders: % is plpgsql's format


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("audit", "0006_actions_sso")]

    operations = [
        migrations.RunPython(forward, backward),
        # The checkpoint's own audit event (audit/checkpoints.py).
        migrations.AlterField(
            model_name='auditevent',
            name='action',
            field=models.CharField(choices=[('staff.created', 'Staff account created'), ('staff.signed_in', 'Signed in'), ('staff.sign_in_failed', 'Sign-in refused'), ('staff.signed_out', 'Signed out'), ('staff.sign_in_locked', 'Sign-in locked after failures'), ('staff.role_changed', 'Staff role changed'), ('apikey.created', 'API key created'), ('apikey.revoked', 'API key revoked'), ('serviceapp.created', 'Service App added'), ('serviceapp.updated', 'Service App changed'), ('serviceapp.token_refreshed', 'Integration token refreshed'), ('webhook.registered', 'Webhook registered at Webex'), ('webhook.received', 'Webhook received'), ('org.onboarded', 'Org onboarded'), ('org.onboarding_started', 'Onboarding wizard started'), ('org.authorized', 'Org authorized the app'), ('org.deauthorized', 'Org removed the app'), ('org.tokens_fetched', 'Org tokens fetched'), ('org.tokens_refreshed', 'Org tokens refreshed'), ('org.tokens_refresh_failed', 'Org token refresh failed'), ('org.reauthorization_required', 'Org needs reauthorization'), ('org.reconciled', 'Org authorizations reconciled'), ('org.offboarding_started', 'Offboarding started'), ('org.offboarded', 'Org offboarded'), ('org.tokens_destroyed', 'Org tokens destroyed'), ('datasource.registered', 'Data source registered'), ('datasource.updated', 'Data source edited'), ('datasource.rotated', 'Data source token rotated'), ('datasource.rotation_failed', 'Rotation failed'), ('datasource.disabled', 'Data source disabled'), ('datasource.enabled', 'Data source enabled'), ('datasource.deleted', 'Data source deleted'), ('datasource.maintenance_scheduled', 'Maintenance scheduled'), ('datasource.drift_found', 'Drift found at Webex'), ('datasource.adopted', 'Data source adopted from Webex'), ('datasource.repaired', 'Data source repaired'), ('bulk.started', 'Bulk action started'), ('bulk.finished', 'Bulk action finished'), ('alert.acknowledged', 'Alert acknowledged'), ('alert.opened', 'Alert opened'), ('alert.resolved', 'Alert resolved'), ('alert.notified', 'Alert notification sent'), ('incident.raised', 'Incident raised'), ('alertchannel.created', 'Alert channel added'), ('alertchannel.updated', 'Alert channel changed'), ('alertchannel.deleted', 'Alert channel removed'), ('alertchannel.tested', 'Alert channel tested'), ('encryption.keys_rotated', 'Secrets re-encrypted'), ('audit.exported', 'Audit trail exported'), ('audit.checkpointed', 'Audit chain checkpoint signed')], max_length=64),
        ),
    ]
