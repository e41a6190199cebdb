"""The soak's judge: its figures from the emulator's state and request log and the portal's
database. All but `figures` (which reads the database) are pure functions of what the emulator
reported, tested in byods_portal/tests/test_soak_figures.py."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict

from soak_config import LIFETIME_MINUTES, OVERLAP_TOLERANCE, STORM_OUTCOMES, log


def parse_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def phase_of(at: dt.datetime, phases: dict[str, dt.datetime]) -> str:
    """The disturbance a lapse at `at` followed: the latest one that began before it."""
    began = [(when, name) for name, when in phases.items() if when <= at]
    return max(began)[1] if began else "setup"


def nonce_figures(
    nonce_history: list[dict], ended_at: dt.datetime, phases: dict[str, dt.datetime]
) -> dict:
    """From the emulator's nonce history alone: lapses, reused nonces, idempotent resends,
    the worst remaining lifetime at rotation, and how many changes each data source had."""
    lifetime = dt.timedelta(minutes=LIFETIME_MINUTES)
    history = defaultdict(list)  # data source id at Webex -> [(time, nonce)] in order
    for entry in nonce_history:
        history[entry["dataSourceId"]].append((parse_time(entry["time"]), entry["nonce"]))
    lapsed, resends, reused, worst = 0, 0, 0, None
    lapses_by_phase: Counter = Counter()
    owners: dict[str, set] = defaultdict(set)
    changes: dict[str, int] = {}
    for ds_id, entries in history.items():
        seen: set[str] = set()
        issued = []  # (time, nonce) of each accepted change, idempotent resends folded
        for at, nonce in entries:
            owners[nonce].add(ds_id)
            if issued and issued[-1][1] == nonce:
                resends += 1
                continue
            if nonce in seen:
                reused += 1
            seen.add(nonce)
            issued.append((at, nonce))
        changes[ds_id] = len(issued)
        for (before, _), (after, _) in zip(issued, issued[1:], strict=False):
            expired = before + lifetime
            if after > ended_at and expired > ended_at:
                continue  # rotated while draining, with beat stopped: not the engine's timing
            left = (expired - after).total_seconds()
            worst = left if worst is None else min(worst, left)
            if left <= 0:  # expired inside the soak window before its successor came
                lapsed += 1
                lapses_by_phase[phase_of(expired, phases)] += 1
        # The newest token must still have been valid when the soak ended.
        if issued and issued[-1][0] + lifetime <= ended_at:
            lapsed += 1
            lapses_by_phase[phase_of(issued[-1][0] + lifetime, phases)] += 1
    reused += sum(1 for ids in owners.values() if len(ids) > 1)
    return {
        "lapsed": lapsed,
        "reused": reused,
        "resends": resends,
        "worst": worst if worst is not None else float("nan"),
        "changes": changes,
        "lapses_by_phase": dict(lapses_by_phase),
    }


def put_calls(request_log: list[dict]) -> dict[str, list[tuple]]:
    """The emulator's log of data source PUTs, per Webex id, in order of arrival: (arrived,
    ended, trackingId, nonce). A log entry is written when the call ends; it arrived
    `durationMs` before (latency and a timeout fault's hold included). A fault that fires
    before Webex reads the body (a status or a reset) leaves the nonce out (None)."""
    calls: dict[str, list[tuple]] = defaultdict(list)
    for entry in request_log:
        if entry["method"] != "PUT" or not entry["path"].startswith("/v1/dataSources/"):
            continue
        ended = parse_time(entry["time"])
        arrived = ended - dt.timedelta(milliseconds=entry["durationMs"])
        webex_id = entry["path"].rstrip("/").rsplit("/", 1)[-1]
        calls[webex_id].append((arrived, ended, entry["trackingId"], entry["nonce"]))
    for entries in calls.values():
        entries.sort(key=lambda call: call[0])
    return calls


def storm_figures(
    bursts: list[dict], request_log: list[dict], phases: dict[str, dt.datetime] | None = None
) -> dict:
    """What the storms sent and what reached Webex. For each burst (one data source,
    STORM_REQUESTS "rotate now" at once): the PUTs of that data source that arrived between
    its first request and its last answer, and how many distinct nonces among them no earlier
    PUT of that data source had carried: new rotations, target at most 1 per burst (sweep
    rotations in the window count too; single flight holds against them as well). A re-sent
    pending nonce is not new; a nonce that comes back after another is the reuse
    `nonce_figures` counts. Answers that are not a rotation outcome (HTTP errors, the
    client's own errors) are also counted by the phase their burst began in."""
    calls = put_calls(request_log)
    answers: Counter = Counter()
    errors_by_phase: dict[str, Counter] = defaultdict(Counter)
    new_per_burst: Counter = Counter()
    over, puts, unlogged = [], 0, 0
    for burst in bursts:
        answers.update(burst["answers"])
        for answer in burst["answers"]:
            if answer not in STORM_OUTCOMES:
                errors_by_phase[phase_of(burst["start"], phases or {})][answer] += 1
        seen: set[str] = set()
        new: list[str] = []
        for arrived, _ended, _tracking, nonce in calls.get(burst["webexId"], []):
            if arrived > burst["end"]:
                break
            if arrived >= burst["start"]:
                puts += 1
                if nonce is None:
                    unlogged += 1
                elif nonce not in seen:
                    new.append(nonce)
            if nonce is not None:
                seen.add(nonce)
        new_per_burst[len(new)] += 1
        if len(new) > 1:
            over.append(burst | {"newNonces": new})
    return {
        "bursts": len(bursts),
        "requests": sum(len(burst["answers"]) for burst in bursts),
        "answers": dict(answers),
        "errors_by_phase": {phase: dict(errors) for phase, errors in errors_by_phase.items()},
        "new_per_burst": dict(sorted(new_per_burst.items())),
        "most_new": max(new_per_burst, default=0),
        "over": over,
        "puts": puts,
        "unlogged": unlogged,
        "longest": max(
            ((b["end"] - b["start"]).total_seconds() for b in bursts), default=float("nan")
        ),
    }


def concurrent_puts(request_log: list[dict]) -> list[dict]:
    """PUTs of one data source at Webex at once from two callers: one arrived before another,
    with a different trackingId, had ended. Single flight forbids it whoever the callers are
    (sweep, storm, a recovery of a dead worker's nonce); only the client's own retry of a call
    that got no answer may overlap it, and that keeps the call's trackingId. Target 0."""
    found = []
    for webex_id, calls in put_calls(request_log).items():
        open_calls: list[tuple] = []
        for call in calls:
            arrived, _ended, tracking, nonce = call
            open_calls = [c for c in open_calls if c[1] > arrived + OVERLAP_TOLERANCE]
            for other in open_calls:
                if other[2] != tracking:
                    found.append(
                        {
                            "webexId": webex_id,
                            "first": {
                                "arrived": other[0],
                                "ended": other[1],
                                "trackingId": other[2],
                                "nonce": other[3],
                            },
                            "second": {"arrived": arrived, "trackingId": tracking, "nonce": nonce},
                        }
                    )
            open_calls.append(call)
    return found


def figures(
    state: dict,
    request_log: list[dict],
    bursts: list[dict],
    ended_at: dt.datetime,
    phases: dict[str, dt.datetime],
    storm_phases: dict[str, dt.datetime],
) -> dict:
    from audit.models import AuditEvent
    from audit.vocabulary import Action
    from datasources.models import DataSource

    result = nonce_figures(state["nonceHistory"], ended_at, phases)
    # Every change Webex accepted by PUT must be in the request log, or the log was trimmed
    # (it keeps the newest 100,000 calls) and the storm and overlap figures would miss some.
    logged = {entry["trackingId"] for entry in request_log}
    unlogged = sum(
        1
        for entry in state["nonceHistory"]
        if entry["operation"] == "update" and entry["trackingId"] not in logged
    )
    if unlogged:
        log(f"WARNING: {unlogged} accepted PUTs are missing from the request log (trimmed?)")
    changes = result.pop("changes")
    remote = {d["id"]: d for d in state["dataSources"]}
    portal = {d.webex_id: d for d in DataSource.objects.filter(deleted_at__isnull=True)}

    disagree = 0
    for webex_id in set(remote) | set(portal):
        there, here = remote.get(webex_id), portal.get(webex_id)
        if there is None or here is None or here.pending_nonce:
            disagree += 1
            continue
        expiry_gap = abs(parse_time(there["tokenExpiryTime"]) - here.token_expires_at)
        if there["nonce"] != here.nonce or expiry_gap > dt.timedelta(seconds=2):
            disagree += 1

    audited = Counter()
    for target in AuditEvent.objects.filter(
        action__in=[Action.DATASOURCE_REGISTERED, Action.DATASOURCE_ROTATED],
        outcome=AuditEvent.Outcome.OK,
    ).values_list("target_id", flat=True):
        audited[str(target)] += 1
    unaudited = 0
    for webex_id, count in changes.items():
        ds = portal.get(webex_id)
        events = audited[str(ds.public_id)] if ds else 0
        unaudited += max(0, count - events)
    return result | {
        "disagree": disagree,
        "unaudited": unaudited,
        "rotations": sum(changes.values()) - len(changes),
        "storms": storm_figures(bursts, request_log, storm_phases),
        "concurrent": concurrent_puts(request_log),
        "log_incomplete": unlogged,
    }
