"""bench/run_all.py reads each benchmark's target from the benchmark itself."""

import importlib.util
import sys
from pathlib import Path

import pytest

RUNNER = Path(__file__).resolve().parents[2] / "bench" / "run_all.py"


@pytest.fixture(scope="module")
def run_all():
    spec = importlib.util.spec_from_file_location("bench_run_all", RUNNER)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


@pytest.mark.parametrize(
    ("figure", "target", "value", "met"),
    [
        ("rotation throughput vs ideal: 0.48 (target >= 0.85)", ">= 0.85", 0.48, "no"),
        ("sweep time ratio 100k/1k: 1.21 (target <= 1.5)", "<= 1.5", 1.21, "yes"),
        (
            "audit page time ratio 1M/10k: 1.32 (worst filter: x; target <= 1.5)",
            "<= 1.5",
            1.32,
            "yes",
        ),
    ],
)
def test_it_reads_target_and_value_from_the_last_line(
    run_all, tmp_path, figure, target, value, met
):
    script = tmp_path / "b.py"
    script.write_text("print('x')\n")
    row = run_all.row_for(script, 0, f"warming up\n{figure}\n")
    assert (row.target, row.value, row.met) == (target, value, met)


def test_it_falls_back_to_a_target_constant_in_the_file(run_all, tmp_path):
    script = tmp_path / "b.py"
    script.write_text("TARGET = 256\n")
    row = run_all.row_for(script, 0, "emulator in-flight: 200/256\n")
    assert (row.target, row.value, row.met) == (">= 256", 200.0, "no")
    script.write_text('TARGET = "<= 2.5"\n')
    assert run_all.row_for(script, 0, "page p95: 2.1 s\n").met == "yes"


def test_a_failed_benchmark_is_marked_failed(run_all, tmp_path):
    script = tmp_path / "b.py"
    script.write_text("TARGET = 1\n")
    row = run_all.row_for(script, 3, "Traceback ...\n")
    assert row.met == "failed" and "exit 3" in row.figure


def test_every_benchmark_in_bench_is_discovered_with_a_target(run_all):
    scripts = run_all.discover()
    assert "run_all.py" not in {s.name for s in scripts}
    assert {"emulator.py", "rotation.py"} <= {s.name for s in scripts}
    for script in scripts:
        source = script.read_text()
        assert run_all.target_from_source(script) or "target" in source, script.name
