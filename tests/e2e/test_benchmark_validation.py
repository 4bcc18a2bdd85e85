"""scripts.benchmark_validation end to end on tiny data: 1 vs 2 workers in one run, well-formed figures.

The speed-up target (2 workers >= 1.6x one on the statistics pass) is checked by the benchmark's printed figures at 1,000,000 rows,
not here: this proves the benchmark measures both worker counts on the same data, splits the
statistics pass from the fixed costs, and writes its JSON and PNG.
"""

from __future__ import annotations

import json

import pytest
from support import run_script

pytestmark = pytest.mark.medium


def test_one_vs_two_workers_on_the_same_data(tmp_path):
    out = tmp_path / "bench"
    proc = run_script(
        "scripts.benchmark_validation", "--rows=2000", "--shards=2", "--workers=1,2", f"--out={out}", timeout=900
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "2 workers vs 1:" in proc.stdout
    record = json.loads((out / "benchmark.json").read_text())
    assert record["worker_counts"] == [1, 2]
    assert [r["workers"] for r in record["runs"]] == [1, 2]
    for run in record["runs"]:
        assert run["rows"] == 2000 and run["clean"]
        stats = run["statistics"]
        # The pass is a part of the job, the job a part of the gate: each figure positive and in order.
        assert 0 < stats["pass_seconds"] <= stats["job_seconds"] <= run["gate_seconds"]
        assert stats["startup_seconds"] > 0 and run["fixed_seconds"] > 0
        for key in ("pass_rows_per_sec", "gate_rows_per_sec", "cpu_seconds", "cpu_ms_per_1k_rows", "peak_memory_mb"):
            assert run[key] > 0, key
        # One Beam worker process per worker, each with CPU time of its own.
        workers = run["cpu_seconds_by_process"]["beam_worker"]
        assert len(workers) == run["workers"] and all(s > 0 for s in workers)
        assert len(run["load_average_start"]) == 3
    assert set(record["best"]) == {"1", "2"}
    speedup = record["speedup"]["2"]
    assert speedup["pass_rows_per_sec"] > 0 and speedup["peak_memory"] > 0
    assert set(record["target"]) >= {"speedup_2_over_1_pass", "speedup_met", "memory_met"}
    assert record["machine"]["cpus"] >= 1
    png = (out / "benchmark.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_runner_modes_side_by_side_and_auto_runs_small_data_in_memory(tmp_path):
    out = tmp_path / "modes"
    proc = run_script(
        "scripts.benchmark_validation",
        "--rows=2000",
        "--shards=1",
        "--modes=in_memory,auto",
        f"--out={out}",
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "auto vs in_memory: whole gate" in proc.stdout
    # auto resolved before the job: 2,000 rows are far below the threshold, so no Beam worker process starts.
    assert "DirectRunner (in_memory, 1 worker(s)); auto:" in proc.stdout
    record = json.loads((out / "benchmark.json").read_text())
    assert record["arms"] == ["in_memory", "auto"]
    assert [r["mode"] for r in record["runs"]] == ["in_memory", "auto"]
    for run in record["runs"]:
        assert run["rows"] == 2000 and run["clean"] and "beam_worker" not in run["cpu_seconds_by_process"]
    assert record["speedup"]["auto"]["gate_seconds_ratio"] > 0
