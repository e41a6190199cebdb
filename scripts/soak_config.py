"""The soak's knobs (SOAK_* environment variables, read once) and its fixed choices.

See scripts/soak.py for what each one does to the run.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SECONDS = int(os.environ.get("SOAK_SECONDS", "600"))
COUNT = int(os.environ.get("SOAK_DATASOURCES", "2000"))
ORGS = int(os.environ.get("SOAK_ORGS", "50"))
FAULT_RATE = float(os.environ.get("SOAK_FAULT_RATE", "0.10"))
LATENCY_MS = float(os.environ.get("SOAK_LATENCY_MS", "50"))
STORM_SOURCES = int(os.environ.get("SOAK_STORM_SOURCES", "5"))
STORM_REQUESTS = int(os.environ.get("SOAK_STORM_REQUESTS", "10"))
# How long the acting scheduler stays dead (it is restarted after, to stand by).
BEAT_DOWN_SECONDS = float(os.environ.get("SOAK_BEAT_DOWN_SECONDS", "180"))
STORM_EVERY = (3.0, 5.0)  # seconds from one storm to the next, drawn uniformly
STORM_OUTCOMES = {  # what a 200 from the rotate endpoint can say (RotationResult.outcome)
    "rotated",
    "in_progress",
    "already_rotated",
    "failed",
    "rate_limited",
    "skipped",
    "paused",
    "missing",
}
STORM_REQUEST_TIMEOUT = 60  # a rotate-now answers within the 20 s lease; this is a backstop
OVERLAP_TOLERANCE = dt.timedelta(milliseconds=10)  # the request log's times are whole milliseconds
LIFETIME_MINUTES = 2
SCHEMA = "5397013b-7920-4ffc-807c-e8a3e0a18f43"
DOMAIN = "soak.example.com"
DB = "byods_soak"
PG_ADMIN = os.environ.get("SOAK_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
FAULT_KINDS = [
    {"kind": "status", "status": 429, "retryAfter": 2},
    {"kind": "status", "status": 500},
    {"kind": "status", "status": 503},
    {"kind": "timeout", "delaySeconds": 4},  # longer than WEBEX_READ_TIMEOUT (soak.py)
    {"kind": "reset"},
]


def log(message: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", flush=True)
