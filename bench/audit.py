"""Audit log page time at 1,000,000 events versus 10,000 (target: ratio at most 1.5).

Builds a scratch PostgreSQL database `byods_bench_audit` (SQLite file if PostgreSQL does not
answer), fills it with a realistic mix of events in one valid hash chain, and times the audit
log page (the real view, through Django's test client, signed in as an auditor) for the
filters staff use. The last line prints the worst ratio over those filters.
"""

import json
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SMALL, LARGE = 10_000, 1_000_000
REPEATS = 15
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
BENCH_DB = "byods_bench_audit"


def choose_database() -> str:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")
            conn.execute(f"CREATE DATABASE {BENCH_DB}")
        return f"postgres://postgres@127.0.0.1:5432/{BENCH_DB}"
    except Exception as exc:  # noqa: BLE001 - any failure means: no PostgreSQL here
        print(f"PostgreSQL unavailable ({exc.__class__.__name__}); using SQLite", flush=True)
        path = ROOT / "var" / "bench-audit.sqlite3"
        path.parent.mkdir(exist_ok=True)
        path.unlink(missing_ok=True)
        return f"sqlite:///{path}"


os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "byods_portal.settings_test",
        "DATABASE_URL": choose_database(),
    }
)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402

from accounts.roles import Role  # noqa: E402
from accounts.services import staff_user_create  # noqa: E402
from audit.context import Actor  # noqa: E402
from audit.models import AuditChainHead, AuditEvent  # noqa: E402
from audit.vocabulary import Action  # noqa: E402

rng = random.Random(42)
# Customers differ in size and rotations dominate the trail: weights make the filters return
# full pages at 10k and at 1M, so both sides of the ratio render the same 50 rows.
ORGS = [uuid.uuid4() for _ in range(500)]
ORG_WEIGHTS = [1 / (rank + 1) for rank in range(len(ORGS))]  # Zipf-like
ACTORS = [f"staff{i}@partner.example" for i in range(40)] + [
    "system:rotation_sweep",
    "system:refresh_sweep",
    "system:reconcile",
]
ACTIONS = [a.value for a in Action]
# Rotations dominate; token refreshes and rotation failures are common; the rest are rare.
COMMON = {Action.ORG_TOKENS_REFRESHED: 10, Action.DATASOURCE_ROTATION_FAILED: 10}
ACTION_WEIGHTS = [60 if a == Action.DATASOURCE_ROTATED else COMMON.get(a, 1) for a in Action]
COLUMNS = [
    "public_id", "occurred_at", "actor_type", "actor", "actor_id", "action", "target_type",
    "target_id", "target_label", "org_id", "summary", "reason", "changes", "outcome", "error",
    "tracking_id", "correlation_id", "prev_hash", "hash",
]  # fmt: skip


def make_events(count: int, start: datetime, prev_hash: str):
    """Yield rows in chain order, 1 event every ~2 s from `start`; returns via the generator."""
    step = timedelta(seconds=2)
    for i in range(count):
        action = rng.choices(ACTIONS, ACTION_WEIGHTS)[0]
        failed = rng.random() < 0.02
        actor = rng.choice(ACTORS)
        event = AuditEvent(
            public_id=uuid.uuid4(),
            occurred_at=start + i * step,
            actor_type="system" if actor.startswith("system:") else "user",
            actor=actor,
            action=action,
            target_type="datasource" if action.startswith("datasource") else "org",
            target_id=str(uuid.uuid4()),
            org_id=rng.choices(ORGS, ORG_WEIGHTS)[0],
            summary=f"{action} for bench",
            changes={"status": {"before": "active", "after": "active"}},
            outcome="failed" if failed else "ok",
            error="503 from Webex" if failed else "",
            tracking_id=f"WEBEX_{i}",
            correlation_id=uuid.uuid4(),
            prev_hash=prev_hash,
        )
        event.hash = event.compute_hash()
        prev_hash = event.hash
        yield event


def insert(count: int) -> None:
    head = AuditChainHead.objects.get_or_create(pk=1)[0]
    last = AuditEvent.objects.order_by("-id").first()
    start = (last.occurred_at + timedelta(seconds=2)) if last else datetime(2025, 1, 1, tzinfo=UTC)
    prev = head.last_hash
    started = time.monotonic()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor, transaction.atomic():
            raw = cursor.cursor
            with raw.copy(f"COPY audit_auditevent ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for e in make_events(count, start, prev):
                    copy.write_row(
                        [
                            e.public_id,
                            e.occurred_at,
                            e.actor_type,
                            e.actor,
                            e.actor_id,
                            e.action,
                            e.target_type,
                            e.target_id,
                            e.target_label,
                            e.org_id,
                            e.summary,
                            e.reason,
                            json.dumps(e.changes),
                            e.outcome,
                            e.error,
                            e.tracking_id,
                            e.correlation_id,
                            e.prev_hash,
                            e.hash,
                        ]  # fmt: skip
                    )
                    prev = e.hash
            cursor.execute("ANALYZE audit_auditevent")
    else:
        batch = []
        for e in make_events(count, start, prev):
            batch.append(e)
            prev = e.hash
            if len(batch) == 5000:
                _sqlite_bulk(batch)
                batch = []
        _sqlite_bulk(batch)
    last = AuditEvent.objects.order_by("-id").first()
    AuditChainHead.objects.filter(pk=1).update(last_event_id=last.id, last_hash=last.hash)
    total = AuditEvent.objects.count()
    print(f"  inserted {count:,} events in {time.monotonic() - started:.1f} s (total {total:,})")


def _sqlite_bulk(batch):
    # bulk_create goes around AuditEvent.save(); the rows are new, so append-only still holds.
    with transaction.atomic():
        AuditEvent.objects.bulk_create(batch, batch_size=1000)


def time_pages(client: Client, filters: dict[str, dict]) -> dict[str, float]:
    results = {}
    for label, params in filters.items():
        client.get("/audit/", params)  # warm caches
        samples = []
        for _ in range(REPEATS):
            t0 = time.perf_counter()
            response = client.get("/audit/", params)
            samples.append(time.perf_counter() - t0)
            assert response.status_code == 200, response.status_code
        results[label] = statistics.median(samples) * 1000
    return results


def filters_now() -> dict[str, dict]:
    newest = AuditEvent.objects.order_by("-id").first()
    day_ago = newest.occurred_at - timedelta(days=1)
    mid = AuditEvent.objects.order_by("id")[AuditEvent.objects.count() // 2]
    return {
        "no filter": {},
        "org": {"org": str(ORGS[2])},
        "action": {"action": Action.DATASOURCE_ROTATED.value},
        "actor": {"actor": "system:reconcile"},
        "outcome failed": {"outcome": "failed"},
        "target": {"target_type": "datasource", "target_id": mid.target_id},
        "last 24 h": {"since": day_ago.strftime("%Y-%m-%dT%H:%M")},
        "org + action": {"org": str(ORGS[3]), "action": Action.DATASOURCE_ROTATED.value},
        # a less common action within one org: still a full page at 10k, so comparable
        "org + failures": {"org": str(ORGS[0]), "action": Action.DATASOURCE_ROTATION_FAILED.value},
        "older page": {"before": str(mid.id)},
    }


def main() -> None:
    call_command("migrate", verbosity=0)
    user, _ = staff_user_create(
        email="bench-auditor@example.com", role=Role.AUDITOR, actor=Actor.system("bench")
    )
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    print(f"database: {connection.vendor}")
    insert(SMALL - AuditEvent.objects.count())
    small = time_pages(client, filters_now())
    insert(LARGE - AuditEvent.objects.count())
    large = time_pages(client, filters_now())
    print(f"{'filter':<16} {'10k ms':>8} {'1M ms':>8} {'ratio':>6}")
    ratios = {}
    for label in small:
        ratios[label] = large[label] / small[label]
        print(f"{label:<16} {small[label]:8.2f} {large[label]:8.2f} {ratios[label]:6.2f}")
    worst = max(ratios, key=ratios.get)
    print(
        f"audit page time ratio 1M/10k: {ratios[worst]:.2f} (worst filter: {worst}; target <= 1.5)"
    )


if __name__ == "__main__":
    main()
