"""Re-seal every encrypted value under the primary key (PORTAL_ENCRYPTION_PRIMARY).

Safe during a rolling deployment: before touching anything it reads the heartbeats every
process (web, worker, scheduler) writes with its key ring, and refuses while a process seen
within --seen-within cannot decrypt with the primary key (it would answer 500 on every value
re-sealed), naming those processes; `--assume-all-updated` overrides. Either way it prints what
it assumes about the processes it cannot see.

Online: rows are re-sealed in small batches, each in its own short transaction with the rows
locked, so the portal keeps running. Resumable: only values not yet under the first key are
touched, so an interrupted run simply continues. At the end it reports how many values each key
still seals; a key with zero can be removed from PORTAL_ENCRYPTION_KEYS.
"""

import datetime as dt
import sys
from collections import Counter

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from audit.context import Actor
from audit.services import audit_record
from audit.vocabulary import Action
from core.encryption import PREFIX, EncryptedTextField, keyring
from stats.liveness import heartbeats_seen


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


def _describe(beat) -> str:
    keys = ",".join(beat.key_ids) or "none reported"
    return (
        f"{beat.role} {beat.name} (pid {beat.pid}, seen {beat.last_seen_at:%Y-%m-%d %H:%M:%S}"
        f" UTC, keys {keys}, encrypts with {beat.primary_key_id or '?'})"
    )


class Command(BaseCommand):
    help = (
        "Re-encrypt every secret under the primary key (PORTAL_ENCRYPTION_PRIMARY) and report "
        "the values left per key. Refuses while a running process cannot decrypt with it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=200)
        parser.add_argument("--report-only", action="store_true", help="Count; change nothing.")
        parser.add_argument(
            "--seen-within",
            type=int,
            default=300,
            metavar="SECONDS",
            help="Processes whose heartbeat is this recent count as running (default: 300).",
        )
        parser.add_argument(
            "--assume-all-updated",
            action="store_true",
            help="Re-seal even if a running process seems unable to decrypt with the primary.",
        )

    def handle(self, *args, batch_size, report_only, seen_within, assume_all_updated, **options):
        ring = keyring()
        decrypt_only = ", ".join(ring.decrypt_only) or "none"
        self.stdout.write(f"Primary (encrypting) key: {ring.primary}; decrypt-only: {decrypt_only}")
        beats = list(heartbeats_seen(within=dt.timedelta(seconds=seen_within)))
        lacking = [b for b in beats if ring.primary not in b.key_ids]
        self._assumptions(ring, beats, lacking, seen_within, report_only, assume_all_updated)
        before = values_per_key()
        stale = sum(n for key, n in before.items() if key != ring.primary)
        self.stdout.write(f"{stale} values to re-seal under {ring.primary}.")
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
                        "values_per_key": {"before": dict(before), "after": dict(values_per_key())},
                        "processes_seen": {"after": len(beats)},
                        "assumed_all_updated_over": {"after": [b.name for b in lacking]},
                    },
                )
            self.stdout.write("")
        self._report(ring)

    def _assumptions(  # noqa: PLR0913
        self, ring, beats, lacking, seen_within: int, report_only: bool, assume: bool
    ) -> None:
        """Say what the heartbeats show and what is assumed; refuse (CommandError) while a
        running process cannot decrypt with the primary, unless told to proceed."""
        roles = Counter(b.role for b in beats)
        seen = ", ".join(f"{n} {role}" for role, n in sorted(roles.items())) or "no process"
        self.stdout.write(f"Heartbeats within {seen_within} s: {seen}.")
        for beat in beats:
            self.stdout.write(f"  {_describe(beat)}")
        if "web" not in roles:
            heartbeat = "on" if settings.PORTAL_WEB_HEARTBEAT else "off here"
            self.stdout.write(
                f"Assuming: web processes hold key {ring.primary} (none reported a heartbeat; "
                f"PORTAL_WEB_HEARTBEAT is {heartbeat})."
            )
        self.stdout.write(
            f"Assuming: every process not listed above (stopped, or silent for over "
            f"{seen_within} s) will start with key {ring.primary} in PORTAL_ENCRYPTION_KEYS."
        )
        others = [b for b in beats if b.primary_key_id and b.primary_key_id != ring.primary]
        for beat in others:
            self.stdout.write(
                f"Note: {beat.role} {beat.name} still encrypts with {beat.primary_key_id}; values "
                f"it writes now need another run once it is updated."
            )
        if not lacking:
            self.stdout.write(f"Every process seen can decrypt with {ring.primary}.")
            return
        names = "; ".join(_describe(b) for b in lacking)
        if report_only:
            self.stderr.write(
                self.style.WARNING(
                    f"A re-seal would be refused: {len(lacking)} process(es) without key "
                    f"{ring.primary}: {names}"
                )
            )
            return
        if assume:
            self.stderr.write(
                self.style.WARNING(
                    f"Assuming all updated although the heartbeats show {len(lacking)} process(es) "
                    f"without key {ring.primary}: {names}"
                )
            )
            return
        raise CommandError(
            f"Refusing to re-seal under key {ring.primary}: {len(lacking)} process(es) seen "
            f"within {seen_within} s cannot decrypt with it and would fail on every value "
            f"re-sealed: {names}. Add {ring.primary} to PORTAL_ENCRYPTION_KEYS there (as "
            f"decrypt-only first) and restart them; a process that has stopped drops out after "
            f"--seen-within. --assume-all-updated re-seals anyway."
        )

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
                note = "primary: encrypts"
            elif left:
                note = "decrypt-only, still in use: run without --report-only"
            else:
                note = "decrypt-only, no values left: retire once no process encrypts with it"
            self.stdout.write(f"  key {key_id}: {left} values ({note})")
        unknown = {k: v for k, v in counts.items() if k not in ring.ids}
        if unknown:
            self.stderr.write(
                self.style.ERROR(f"  values sealed by keys not configured: {unknown}")
            )
