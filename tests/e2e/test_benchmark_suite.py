"""Smoke test of the benchmark suite: its pieces run with tiny sizes and write well-formed, positive figures.

No timing assertions: the figures of a loaded 2-core machine mean nothing here. The
input pipeline, bottleneck, distribution and TFDV pieces run in the full suite
(scripts/benchmark_suite.py); here the suite's own code runs end to end on the
training-throughput (all three loops) and start-up benchmarks.
"""

from __future__ import annotations

import json
import os
import re
import sys

import pytest

from benchmarks import suite, training_throughput
from common import processes as memory

pytestmark = pytest.mark.medium


def test_peak_memory_counts_the_children(tmp_path):
    # A child whose own child holds 150 MB: the tree's peak must include the grandchild.
    code = (
        "import subprocess, sys; subprocess.run([sys.executable, '-c', "
        "'import time; x = bytearray(150 * 2**20); print(\"held\", flush=True); time.sleep(0.6)'])"
    )
    measured = memory.run_measured([sys.executable, "-c", code], timeout=60).check()
    assert measured.first_line(lambda line: line == "held") is not None
    assert measured.peak_rss_bytes > 150 * 2**20
    assert measured.peak_processes >= 2


def test_quick_suite_writes_positive_figures(tfds_data_dir, tmp_path):
    out = str(tmp_path / "suite")
    lines: list[str] = []
    sizes = suite.dataclasses.replace(suite.QUICK, startup_train_steps=3)
    record = suite.run(
        suite.SuiteConfig(
            out_dir=out, data_dir=tfds_data_dir, sizes=sizes, benchmarks=("training_throughput", "startup")
        ),
        say=lines.append,
    )
    # A line per finished run and per benchmark, each with its rate and the time left.
    log = "\n".join(lines)
    assert re.findall(r"^ *run (\d+)/\1 \(100%\)  repeat .* examples/sec .* runs/(?:sec|min)  time left ", log, re.M)
    assert re.findall(
        r"^benchmark 2/2 \(100%\)  startup: \d+ s.*  [\d.,]+ benchmarks/(?:sec|min)  time left 0:00$", log, re.M
    )
    with open(os.path.join(out, "suite.json")) as f:
        assert json.load(f)["results"].keys() == {"training_throughput", "startup"}
    assert os.path.getsize(os.path.join(out, "memory.png")) > 0

    runs = record["results"]["training_throughput"]["runs"]
    assert {r["engine"] for r in runs} == set(training_throughput.ENGINES)
    for r in runs:
        assert r["examples_per_sec"] > 0 and r["median_step_ms"] > 0 and r["peak_rss_mb"] > 0
        assert r["steps"] > 0
    plain = next(r for r in runs if r["engine"] == "tf_function")
    assert 0 < plain["input_wait_fraction"] < 1
    (ratios,) = record["results"]["training_throughput"]["targets"]
    assert ratios["estimator_vs_keras"] > 0 and ratios["tf_function_over_keras"] > 0
    assert os.path.getsize(os.path.join(out, "training_throughput", "throughput.png")) > 0

    start = record["results"]["startup"]
    assert [r["gate"] for r in start["runs"]] == ["validated", "recalled"]
    assert start["first_step_seconds_best"] > 0 and start["peak_rss_mb"] > 0
    assert start["runs"][0]["first_progress_line"].startswith("step ")

    names = {t["target"] for t in record["targets"]}
    assert "first training step within 6 s of launch (gate recalled)" in names
    assert "peak memory within 1.2x of the bare loop (small_cnn, default, estimator)" in names
    assert all(t["figure"] > 0 for t in record["targets"])
    assert all(mb > 0 for mb in record["peak_memory_mb"].values())


def test_retrain_cycle_times_each_step_and_the_skip(tmp_path):
    """A new span runs every step (times in the registry), the unchanged span skips, the next span runs again."""
    cfg = suite.SuiteConfig(out_dir=str(tmp_path / "suite"), sizes=suite.QUICK, benchmarks=("retrain_cycle",))
    result = suite.run(cfg, say=lambda line: None)["results"]["retrain_cycle"]
    assert [c["kind"] for c in result["cycles"]] == ["new span", "unchanged span", "new span"]
    outcomes = [c["outcome"] for c in result["cycles"]]
    assert outcomes[:2] == ["PUSHED", "skipped"] and outcomes[2] in ("PUSHED", "NOT BLESSED")
    for cycle in (result["cycles"][0], result["cycles"][2]):
        assert set(cycle["steps"]) == set(suite.retrain_cycle.STEPS)
        assert 0 < sum(cycle["steps"].values()) < cycle["seconds"]
    assert "steps" not in result["cycles"][1] and 0 < result["skip_seconds"] < result["cycles"][0]["seconds"]
    assert os.path.getsize(os.path.join(cfg.out_dir, "retrain_cycle", "benchmark.png")) > 0


def test_every_input_and_tfdv_target_gets_its_own_row():
    # The shapes dataset_benchmark.target_check and benchmark_validation write; a missed target stays missed.
    check = {"tuned_vs_ceiling": 0.95, "tuned_vs_ceiling_met": True, "tuned_vs_keras_layers": 4.16}
    check |= {
        "tuned_vs_keras_layers_met": False,
        "tuned_vs_keras_generator": None,
        "tuned_vs_keras_generator_met": None,
    }
    tfdv = {"speedup_2_over_1_pass": 1.9, "speedup_met": True, "peak_memory_2_over_1": 1.52, "memory_met": False}
    rows = suite.targets({"input_pipeline": {"target": check}, "validation": {"target": tfdv}})
    met = {r["target"]: r["met"] for r in rows}
    assert met == {
        "tuned input >= 90% of the decode+resize ceiling (1st epoch)": True,
        "tuned input >= 5x image_dataset_from_directory + layers": False,
        "TFDV 2 workers >= 1.6x 1 worker (statistics pass)": True,
        "TFDV 2 workers' peak memory <= 1 worker's": False,
    }
