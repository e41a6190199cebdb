"""The audit trail as CSV, streamed row by row (the page and the API share it)."""

import csv
import json
from collections.abc import Iterator

CSV_COLUMNS = [
    "occurred_at",
    "public_id",
    "actor_type",
    "actor",
    "action",
    "target_type",
    "target_id",
    "target_label",
    "org_id",
    "summary",
    "reason",
    "outcome",
    "error",
    "tracking_id",
    "correlation_id",
    "changes",
    "prev_hash",
    "hash",
]


class _Echo:
    """A file-like object whose write returns the line: lets csv.writer feed a stream."""

    def write(self, value: str) -> str:
        return value


def _csv_safe(value) -> str:
    """Neutralise spreadsheet formulas (CSV injection): a cell starting with = + - @ is text."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_rows(events) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    for event in events.iterator(chunk_size=2000):
        row = {
            **{c: getattr(event, c) for c in CSV_COLUMNS if c != "changes"},
            "occurred_at": event.occurred_at.isoformat(),
            "changes": json.dumps(event.changes, sort_keys=True),
        }
        yield writer.writerow([_csv_safe(row[c]) for c in CSV_COLUMNS])
