"""Re-seal every encrypted value under the first key of PORTAL_ENCRYPTION_KEYS.

Online: rows are re-sealed in small batches, each in its own short transaction with the rows
locked, so the portal keeps running. Resumable: only values not yet under the first key are
touched, so an interrupted run simply continues. At the end it reports how many values each key
still seals; a key with zero can be removed from PORTAL_ENCRYPTION_KEYS.
"""

import sys
from collections import Counter

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import connection, transaction

from audit.context import Actor
from audit.services import audit_record
from audit.vocabulary import Action
from core.encryption import PREFIX, EncryptedTextField, keyring


def encrypted_models():
    for model in apps.get_models():
        fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        if fields:
            yield model, fields


def _key_id(stored: str | None) -> str | None:
    if not stored:
        return None
    return stored[len(PREFIX) :].split(":", 1)[0] if stored.startswith(PREFIX) else "?"


def _raw_batch(model, fields, after_pk: int, limit: int) -> list[tuple]:
    """(pk, raw column values...) read without decrypting; locked on PostgreSQL.

    Raw SQL on purpose: the ORM would decrypt on read, and only the stored form tells which key
    sealed a value. Table and column names come from model metadata, never from input.
    """
    columns = ", ".join(f.column for f in fields)
    pk = model._meta.pk.column
    lock = " FOR UPDATE" if connection.vendor == "postgresql" else ""
    sql = (
        f"SELECT {pk}, {columns} FROM {model._meta.db_table} "  # noqa: S608
        f"WHERE {pk} > %s ORDER BY {pk} LIMIT %s{lock}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [after_pk, limit])
        return cursor.fetchall()


def values_per_key(batch_size: int = 1000) -> Counter:
    counts: Counter = Counter()
    for model, fields in encrypted_models():
        last = 0
        while rows := _raw_batch(model, fields, last, batch_size):
            for row in rows:
                counts.update(k for k in map(_key_id, row[1:]) if k)
            last = row[0]
    return counts


class Command(BaseCommand):
    help = "Re-encrypt every secret under the first key and report the values left per key."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=200)
        parser.add_argument("--report-only", action="store_true", help="Count; change nothing.")

    def handle(self, *args, batch_size, report_only, **options):
        ring = keyring()
        before = values_per_key()
        stale = sum(n for key, n in before.items() if key != ring.primary)
        self.stdout.write(f"First (encrypting) key: {ring.primary}; {stale} values to re-seal.")
        done = 0
        if not report_only and stale:
            for model, fields in encrypted_models():
                last = 0
                while True:
                    with transaction.atomic():
                        rows = _raw_batch(model, fields, last, batch_size)
                        if not rows:
                            break
                        for pk, *stored in rows:
                            updates = {
                                f.attname: ring.decrypt(value)
                                for f, value in zip(fields, stored, strict=True)
                                if value and _key_id(value) != ring.primary
                            }
                            if updates:  # update() re-seals via the field, touches nothing else
                                model.objects.filter(pk=pk).update(**updates)
                                done += len(updates)
                        last = rows[-1][0]
                    self._progress(done, stale)
            with transaction.atomic():
                audit_record(
                    action=Action.ENCRYPTION_KEYS_ROTATED,
                    summary=f"Re-sealed {done} secret values under key {ring.primary}",
                    actor=Actor.system("manage.py rotate_encryption_keys"),
                    changes={
                        "values_per_key": {"before": dict(before), "after": dict(values_per_key())}
                    },
                )
            self.stdout.write("")
        self._report(ring)

    def _progress(self, done: int, total: int) -> None:
        width = 30
        filled = int(width * min(done, total) / total) if total else width
        sys.stdout.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} re-sealed")
        sys.stdout.flush()

    def _report(self, ring) -> None:
        counts = values_per_key()
        for key_id in ring.ids:
            left = counts.get(key_id, 0)
            if key_id == ring.primary:
                note = "encrypting key"
            else:
                note = "safe to retire" if left == 0 else "still in use: run without --report-only"
            self.stdout.write(f"  key {key_id}: {left} values ({note})")
        unknown = {k: v for k, v in counts.items() if k not in ring.ids}
        if unknown:
            self.stderr.write(
                self.style.ERROR(f"  values sealed by keys not configured: {unknown}")
            )
