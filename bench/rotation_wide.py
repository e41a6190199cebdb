"""Where rotation stops on this machine: 128 calls in flight (ideal 128 / 0.2 s = 640
rotations per second), 10,000 due data sources, emulator at 200 ms. No target: the figure is
the ratio reached and the resource that limits it, so the ceiling is measured, not guessed.

The limit is named from what the run used: the machine's CPU when its cores were 80 % busy or
more, or 60 % with the emulator's time per call 10 % above its 200 ms (it was waiting for a
core too: with a dozen busy processes on two cores the rest is scheduling slack; the process
groups' shares say who used them), the database when PostgreSQL
backends used a core or more, the broker when Redis did; otherwise the calls in flight never
reached 128 (the worker's threads, not the machine). See `_rotation.py`.
"""

import os

from _rotation import LATENCY_MS, world

COUNT, IN_FLIGHT, WORKERS = 10_000, 128, 4


def limiting(result) -> str:
    cores = os.cpu_count() or 1
    seconds = {name: ms * result.done / 1000 for name, ms in result.cpu_ms.items()}
    shares = {name: value / result.elapsed for name, value in seconds.items()}  # cores used
    used = ", ".join(f"{name} {share:.2f}" for name, share in shares.items())
    starved = result.at_webex_ms > 1.1 * LATENCY_MS  # the emulator waited for a core too
    if result.machine_busy >= 0.8 or (result.machine_busy >= 0.6 and starved):
        top = max(shares, key=shares.get)
        busy = f"{100 * result.machine_busy:.0f}% of {cores} cores busy"
        slow = f"; calls took {result.at_webex_ms:.0f} ms at the emulator" if starved else ""
        return f"CPU ({busy}{slow}; cores used: {used}; most by {top})"
    if shares.get("postgres", 0) >= 1:
        return f"database (cores used: {used})"
    if shares.get("redis", 0) >= 0.5:
        return f"broker (cores used: {used})"
    return f"calls in flight (peak {result.peak_in_flight}; cores used: {used})"


def main() -> None:
    with world(COUNT, in_flight=IN_FLIGHT, workers=WORKERS) as bench:
        result = bench.once()
    print(result.describe(), flush=True)
    print(
        f"rotation throughput vs ideal at {IN_FLIGHT} in flight: {result.ratio:.2f} "
        f"(limited by {limiting(result)})"
    )


if __name__ == "__main__":
    main()
