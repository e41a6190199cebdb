"""CPU per rotation on the portal's side: the Celery worker's processes and the PostgreSQL
backends of the bench database, per rotation, while 5,000 due data sources rotate at 32 in
flight against the emulator at 200 ms (target: at most 3.5 ms). The emulator's CPU is shown
but not counted: it stands in for Webex. Read from /proc, so Linux only. See `_rotation.py`.

The figure is the median of three runs: one process's CPU time is little disturbed by other
work on the machine, but a busy machine still costs some (caches, lock waits).
"""

import os
import statistics

from _rotation import world

COUNT, IN_FLIGHT, WORKERS = 5000, 32, 4
RUNS = int(os.environ.get("BENCH_RUNS", "3"))


def main() -> None:
    with world(COUNT, in_flight=IN_FLIGHT, workers=WORKERS) as bench:
        figures = []
        for run in range(1, RUNS + 1):
            result = bench.once()
            print(f"run {run}: {result.describe()}", flush=True)
            figures.append(result.portal_cpu_ms)
    shown = ", ".join(f"{f:.2f}" for f in figures)
    print(
        f"CPU per rotation, portal side (worker + postgres), median of {RUNS} runs: "
        f"{statistics.median(figures):.2f} ms (runs: {shown}; target <= 3.5)"
    )


if __name__ == "__main__":
    main()
