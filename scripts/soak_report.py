"""The soak's figures, printed and written to a report."""

from __future__ import annotations

import datetime as dt
import os

from soak_config import (
    BEAT_DOWN_SECONDS,
    COUNT,
    FAULT_RATE,
    LATENCY_MS,
    LIFETIME_MINUTES,
    ORGS,
    ROOT,
    SECONDS,
    STORM_EVERY,
    STORM_OUTCOMES,
    STORM_REQUESTS,
    STORM_SOURCES,
)


def print_figures(result: dict, hits: int) -> None:
    """The figures on standard output, one a line, with the worst cases under them."""
    print(f"rotations accepted by Webex:                  {result['rotations']}")
    print(f"faults injected (last rule set):              {hits}")
    print(f"tokens that lapsed (target 0):                {result['lapsed']}")
    if result["lapses_by_phase"]:
        print(f"  lapses after each disturbance began:        {result['lapses_by_phase']}")
    print(
        f"nonces used twice (target 0):                 {result['reused']} "
        f"(idempotent resends of a pending nonce: {result['resends']})"
    )
    print(f"portal/emulator disagreements (target 0):     {result['disagree']}")
    print(f"state changes without an audit event (0):     {result['unaudited']}")
    print(f"worst remaining lifetime at rotation:         {result['worst']:.1f} s")
    print(f"standby scheduler took over after:            {takeover_text(result)}")
    storms, concurrent = result["storms"], result["concurrent"]
    print(
        f"storm bursts (x{STORM_REQUESTS} 'rotate now' at once):      {storms['bursts']} "
        f"(longest {storms['longest']:.1f} s)"
    )
    print(f"storm requests sent:                          {storms['requests']}")
    print(f"storm answers:                                {answers_text(storms['answers'])}")
    if storms["errors_by_phase"]:
        print(f"  answers that are no outcome, by phase:      {storms['errors_by_phase']}")
    print(
        f"PUTs with a new nonce per storm burst (<= 1): at most {storms['most_new']} "
        f"(bursts by count: {storms['new_per_burst']})"
    )
    print(
        f"PUTs during storm bursts:                     {storms['puts']} "
        f"(without a logged nonce: {storms['unlogged']})"
    )
    print(f"PUTs at Webex at once from two callers (0):   {len(concurrent)}")
    for burst in storms["over"][:10]:
        print(f"  burst with {len(burst['newNonces'])} new nonces: {burst}")
    for overlap in concurrent[:10]:
        print(f"  overlapping PUTs: {overlap}")
    load = result["load"] or [float("nan")]
    print(
        f"load average (1 min) during the run:          mean {sum(load) / len(load):.1f}, "
        f"max {max(load):.1f} on {os.cpu_count()} cores"
    )


def verdict(result: dict) -> tuple[bool, str]:
    """Whether the soak passed, and the one-line summary that says so."""
    storms, concurrent = result["storms"], result["concurrent"]
    answered = sum(n for answer, n in storms["answers"].items() if answer in STORM_OUTCOMES)
    ok = not (
        result["lapsed"]
        or result["reused"]
        or result["disagree"]
        or result["unaudited"]
        or storms["most_new"] > 1
        or concurrent
        or result["log_incomplete"]
        or result.get("takeover") is None  # the standby never took the schedule over
        or (STORM_SOURCES > 0 and not answered)  # storms that never reached the API
    )
    summary = (
        f"soak {'PASSED' if ok else 'FAILED'}: {COUNT} data sources, {SECONDS} s, "
        f"{result['rotations']} rotations, lapsed {result['lapsed']}, nonce reuse "
        f"{result['reused']}, disagreements {result['disagree']}, unaudited "
        f"{result['unaudited']}, worst remaining {result['worst']:.1f} s, "
        f"scheduler takeover {takeover_text(result)}, "
        f"{storms['requests']} rotate-now in {storms['bursts']} storms, new-nonce PUTs per "
        f"storm at most {storms['most_new']}, concurrent PUTs {len(concurrent)}"
    )
    return ok, summary


def takeover_text(result: dict) -> str:
    seconds = result.get("takeover")
    return "never" if seconds is None else f"{seconds:.1f} s"


def answers_text(answers: dict[str, int]) -> str:
    return ", ".join(f"{answer} {n}" for answer, n in sorted(answers.items(), key=lambda a: -a[1]))


def report_rows(result: dict, hits: int) -> list[tuple]:
    """The report's table: (figure, target, value), one row per figure."""
    storms, concurrent = result["storms"], result["concurrent"]
    return [
        ("rotations accepted by Webex", "", result["rotations"]),
        ("faults injected", f"~{FAULT_RATE:.0%} of data source calls", hits),
        ("tokens that lapsed", "0", result["lapsed"]),
        ("lapses after each disturbance began", "", result["lapses_by_phase"] or "none"),
        ("nonces used twice", "0", result["reused"]),
        ("idempotent resends of a pending nonce", "", result["resends"]),
        ("data sources where portal and emulator disagree", "0", result["disagree"]),
        ("state changes without an audit event", "0", result["unaudited"]),
        ("worst remaining lifetime at rotation (s)", "> 0", f"{result['worst']:.1f}"),
        (
            "standby scheduler took over after the acting one was killed",
            "< 36 s",
            takeover_text(result),
        ),
        (
            "'rotate now' storm bursts (data sources x concurrent requests)",
            "",
            f"{storms['bursts']} x {STORM_REQUESTS}",
        ),
        ("storm requests sent", "", storms["requests"]),
        ("storm answers by outcome", "", answers_text(storms["answers"]) or "none"),
        (
            "storm answers that are no outcome, by the phase their burst began in",
            "",
            storms["errors_by_phase"] or "none",
        ),
        (
            "PUTs with a new nonce per storm burst",
            "≤ 1",
            f"at most {storms['most_new']} (bursts by count: "
            + ", ".join(f"{n}: {bursts}" for n, bursts in storms["new_per_burst"].items())
            + ")",
        ),
        (
            "PUTs that reached Webex during storm bursts (without a logged nonce)",
            "",
            f"{storms['puts']} ({storms['unlogged']})",
        ),
        ("PUTs of one data source at Webex at once from two callers", "0", len(concurrent)),
    ]


def write_report(result: dict, hits: int, summary: str) -> None:
    """bench/SOAK.md (full-size runs): the figures with the run's size, machine and date."""
    import platform

    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = result["load"] or [float("nan")]
    table = "\n".join(
        f"| {name} | {target} | {value} |" for name, target, value in report_rows(result, hits)
    )
    full = SECONDS >= 600 and COUNT >= 2000
    # Only a full-size run replaces the committed figures; a quick run reports under var/.
    target = ROOT / "bench" / "SOAK.md" if full else ROOT / "var" / "soak" / "SOAK.md"
    target.write_text(
        "# Soak test results\n\n"
        f"Measured {now} on {platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()} by `make soak` (`scripts/soak.py`): "
        f"{COUNT} data sources in {ORGS} orgs, {LIFETIME_MINUTES}-minute tokens, {SECONDS} s, "
        f"{FAULT_RATE:.0%} faults, {LATENCY_MS:.0f} ms latency, two schedulers of which the "
        f"acting one was killed with SIGKILL at 10 % and kept dead for {BEAT_DOWN_SECONDS:.0f} s, "
        "one worker killed with SIGKILL "
        "halfway and restarted, the broker restarted once; all along, 'rotate now' storms "
        f"through the API ({STORM_SOURCES} data sources x {STORM_REQUESTS} concurrent requests "
        f"every {STORM_EVERY[0]:.0f}-{STORM_EVERY[1]:.0f} s, gunicorn 2 workers x 8 threads). "
        f"Load average (1 min) during the run: mean {sum(load) / len(load):.1f}, max "
        f"{max(load):.1f}.\n\n"
        f"| figure | target | value |\n|---|---|---|\n{table}\n\n{summary}\n"
    )
