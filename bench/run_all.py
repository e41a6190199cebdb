"""Run every benchmark in bench/ and write bench/RESULTS.md as a table.

A benchmark is any `bench/*.py` script (this runner excepted): a new file is picked up without
touching this one. Its LAST line of output is its figure, e.g.
`rotation throughput vs ideal: 0.48 (target >= 0.85)`. The target comes from the benchmark
itself, in this order:

1. `(target <= X)` / `(target >= X)` (also `target: ...`) in that last line;
2. a module-level constant `TARGET = 256` (meaning ">= 256") or `TARGET = "<= 1.5"`, read from
   the source without importing it.

The value is the first number after the figure's first ": " (`256/256` -> 256). The table has
`| benchmark | figure | target | value | met |` plus the machine (cores, CPU model, Python,
PostgreSQL version) and the date.

    python bench/run_all.py                 # every benchmark
    python bench/run_all.py emulator audit  # only these (RESULTS.md keeps the other rows)
"""

from __future__ import annotations

import ast
import datetime
import os
import platform
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "RESULTS.md"
NOT_BENCHMARKS = {"run_all.py", "__init__.py", "conftest.py"}
TARGET_IN_TEXT = re.compile(r"target\s*:?\s*(<=|>=|<|>|=)\s*(-?\d+(?:\.\d+)?)")
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


@dataclass(frozen=True)
class Row:
    name: str
    figure: str
    target: str  # e.g. ">= 0.85", "" when the benchmark states none
    value: float | None
    met: str  # "yes" / "no" / "?" (no target or no value) / "failed"

    def markdown(self) -> str:
        value = "" if self.value is None else f"{self.value:g}"
        figure = self.figure.replace("|", "\\|")
        return f"| `{self.name}` | {figure} | {self.target} | {value} | {self.met} |"


def discover() -> list[Path]:
    return sorted(
        p for p in HERE.glob("*.py") if p.name not in NOT_BENCHMARKS and not p.name.startswith("_")
    )


def target_from_source(script: Path) -> str:
    """`TARGET = 256` -> ">= 256"; `TARGET = "<= 1.5"` -> "<= 1.5"; "" when absent."""
    try:
        tree = ast.parse(script.read_text())
    except SyntaxError:
        return ""
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "TARGET" for t in targets):
                try:
                    value = ast.literal_eval(node.value)
                except ValueError:
                    return ""
                if isinstance(value, int | float):
                    return f">= {value:g}"
                match = TARGET_IN_TEXT.search(f"target {value}")
                return f"{match[1]} {match[2]}" if match else ""
    return ""


def parse_target(figure: str, script: Path) -> str:
    match = TARGET_IN_TEXT.search(figure)
    return f"{match[1]} {match[2]}" if match else target_from_source(script)


def parse_value(figure: str) -> float | None:
    head = figure.split("(target")[0]
    head = head.split(": ", 1)[1] if ": " in head else head
    match = NUMBER.search(head)
    return float(match[0]) if match else None


def judge(target: str, value: float | None) -> str:
    if not target or value is None:
        return "?"
    op, bound = target.split()
    limit = float(bound)
    ok = {
        "<=": value <= limit,
        ">=": value >= limit,
        "<": value < limit,
        ">": value > limit,
        "=": value == limit,
    }[op]
    return "yes" if ok else "no"


def row_for(script: Path, returncode: int, stdout: str) -> Row:
    lines = [line.strip() for line in stdout.splitlines() if line.strip()]
    target = parse_target(lines[-1] if lines else "", script)
    if returncode != 0 or not lines:
        return Row(script.name, f"FAILED (exit {returncode})", target, None, "failed")
    figure = lines[-1]
    value = parse_value(figure)
    return Row(script.name, figure, target, value, judge(target, value))


def postgres_version() -> str:
    try:
        import psycopg

        url = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
        with psycopg.connect(url, connect_timeout=3) as conn:
            return "PostgreSQL " + str(conn.execute("SHOW server_version").fetchone()[0]).split()[0]
    except Exception:  # noqa: BLE001 - any failure only means "not available" in the header
        return "PostgreSQL not reachable"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine() -> str:
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu_model()}), "
        f"Python {platform.python_version()}, {postgres_version()}"
    )


def previous_rows() -> dict[str, str]:
    """Rows of the existing RESULTS.md by benchmark name, kept when only some are run (the
    figure cell is re-judged, so rows from an older two-column table are upgraded)."""
    if not RESULTS.exists():
        return {}
    rows = {}
    for line in RESULTS.read_text().splitlines():
        match = re.match(r"\| `([^`]+)` \| (.*?) \|", line)
        if match and (HERE / match[1]).exists():
            figure = match[2].replace("\\|", "|")
            failed = figure.startswith("FAILED")
            rows[match[1]] = row_for(HERE / match[1], 1 if failed else 0, figure).markdown()
    return rows


def render(rows: list[str], now: str) -> str:
    return (
        "# Benchmark results\n\n"
        f"Measured {now} on {machine()} by `make bench` (`bench/run_all.py`).\n"
        "Each benchmark's figure is the last line it prints; its target comes from the benchmark\n"
        "itself. `met` says whether the value meets the target.\n\n"
        "| benchmark | figure | target | value | met |\n|---|---|---|---|---|\n"
        + "\n".join(rows)
        + "\n"
    )


def main(argv: list[str]) -> int:
    wanted = {a.removesuffix(".py") for a in argv}
    scripts = [s for s in discover() if not wanted or s.stem in wanted]
    if wanted and len(scripts) != len(wanted):
        known = ", ".join(s.stem for s in discover())
        print(f"unknown benchmark in {sorted(wanted)}; known: {known}", file=sys.stderr)
        return 2
    lines = previous_rows() if wanted else {}
    rows: list[Row] = []
    for script in scripts:
        print(f"== {script.name}", flush=True)
        proc = subprocess.run(
            [sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=3600
        )
        sys.stdout.write(proc.stdout)
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr[-4000:])
        row = row_for(script, proc.returncode, proc.stdout)
        rows.append(row)
        lines[script.name] = row.markdown()
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    RESULTS.write_text(render([lines[k] for k in sorted(lines)], now))
    print()
    print("| benchmark | target | value | met |")
    for row in rows:
        print(f"| {row.name} | {row.target} | {row.value} | {row.met} |")
    print(f"wrote {RESULTS}")
    return 1 if any(r.met == "failed" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
