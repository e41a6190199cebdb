"""Run every benchmark in bench/ and write bench/RESULTS.md.

Each benchmark is a script whose LAST line of output is its figure, e.g.
`emulator in-flight: 256/256`. This runner records that line with the machine and date; it
judges nothing itself (targets are stated by each benchmark's own output).
"""

import datetime
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def main() -> int:
    scripts = sorted(p for p in HERE.glob("*.py") if p.name not in {"run_all.py", "__init__.py"})
    rows, failed = [], 0
    for script in scripts:
        print(f"== {script.name}", flush=True)
        proc = subprocess.run(
            [sys.executable, str(script)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=1800,
        )
        sys.stdout.write(proc.stdout)
        lines = [line for line in proc.stdout.splitlines() if line.strip()]
        figure = lines[-1] if lines and proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
        if proc.returncode != 0:
            failed += 1
            sys.stderr.write(proc.stderr[-4000:])
        rows.append((script.name, figure))
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    table = "\n".join(f"| `{name}` | {figure} |" for name, figure in rows)
    (HERE / "RESULTS.md").write_text(
        f"# Benchmark results\n\nMeasured {now} on {machine} by `make bench`.\n\n"
        f"| benchmark | figure (last line) |\n|---|---|\n{table}\n"
    )
    print(f"wrote {HERE / 'RESULTS.md'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
