"""The dataset benchmark: first-epoch and cached-epoch figures, the Keras alternatives, table, JSON, CSV, PNG."""

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support import run_script

from benchmarks import dataset_benchmark as benchmark
from common.params import AugmentParams
from input_fns.preprocessing import ImageSpec

pytestmark = pytest.mark.medium


def test_timing_counts_the_first_batch_and_skips_the_untimed_ones():
    batches = iter([np.zeros((4, 2)), np.zeros((4, 2)), np.zeros((3, 2)), np.zeros((4, 2))])
    timing = benchmark.time_batches(batches, 2, untimed_batches=1)
    assert timing.batches == 2 and timing.untimed_batches == 1
    assert timing.examples == 7  # the untimed batch of 4 is not counted, a short batch counts what it holds
    assert timing.examples_per_sec == pytest.approx(7 / timing.seconds)
    assert timing.cpu_ms_per_example >= 0 and timing.load_1min >= 0


def test_targets_read_first_epoch_figures_with_the_first_batch():
    def result(name, rate, after_first):
        t = benchmark.Timing(2, 64, 64 / rate, 0.1, rate, after_first)
        return benchmark.VariantResult(name, t, (t,))

    # A tuned pipeline whose shuffle buffer filled before its first batch: fast after it, not overall.
    results = [
        result("tuned", 900.0, 3000.0),
        result("ceiling", 1000.0, 1000.0),
        result("keras_layers", 200.0, 200.0),
        result("keras_generator", 80.0, 80.0),
    ]
    check = benchmark.target_check(results)
    assert check["tuned_vs_ceiling"] == pytest.approx(0.9) and check["tuned_vs_ceiling_met"]
    assert check["tuned_vs_keras_layers"] == pytest.approx(4.5) and check["tuned_vs_keras_layers_met"] is False
    assert check["tuned_vs_keras_generator_met"] and check["met"] is False
    assert check["tuned_vs_naive"] is None
    assert "tuned = 4.50x keras_layers (target >= 5x): MISSED" in benchmark.format_table(results)


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("bench_images"))
    assert benchmark.write_benchmark_images(root, count=48, size=40, num_classes=3) == 48
    return root


def test_every_variant_runs_and_outputs_are_written(small_set, tmp_path):
    workload = benchmark.image_folder_workload(small_set, ImageSpec(24, 24, 3))
    assert workload.num_examples == 48
    augment = AugmentParams(horizontal_flip=True, zoom=0.2, brightness=0.2, contrast=0.2)
    cfg = benchmark.BenchmarkConfig(batch_size=8, repeats=1, augment=augment)
    lines = []
    results = benchmark.run(workload, cfg, progress=lines.append)
    assert [r.name for r in results] == list(benchmark.VARIANTS)
    assert len(lines) == len(benchmark.VARIANTS)
    for r in results:
        assert r.best.batches == 6 and r.best.examples == 48, r.name
        assert r.best.examples_per_sec > 0 and r.best.first_batch_seconds > 0 and r.best.cpu_ms_per_example > 0
    cached = {r.name: r.best.untimed_batches for r in results if r.group == benchmark.CACHED_EPOCH}
    assert set(cached) == {"tuned_cached_epoch", "ceiling_cached_epoch"} and min(cached.values()) > 48 // 8
    table = benchmark.format_table(results)
    header, rule, first = table.splitlines()[:3]
    assert header.split()[:2] == ["variant", "epoch"] and rule == "-" * len(header)
    assert first.startswith(f"{results[0].name:<22} {results[0].group:<13} ") and first.split()[-3] == "6", first
    assert "first epoch: tuned = " in table and "% of ceiling (target >= 90%)" in table
    assert "x keras_layers (target >= 5x)" in table and "x keras_generator (target >= 10x)" in table
    assert "cached epoch (after one untimed epoch): tuned_cached_epoch = " in table
    paths = benchmark.write_outputs(results, workload, cfg, str(tmp_path), command="python -m x")
    report = json.loads(Path(paths["json"]).read_text())
    assert report["command"] == "python -m x" and len(report["variants"]) == len(benchmark.VARIANTS)
    targets = ("tuned_vs_ceiling", "tuned_vs_keras_layers", "tuned_vs_keras_generator")
    for key in targets:
        assert report["target"][key] > 0 and isinstance(report["target"][f"{key}_met"], bool)
    assert report["target"]["tuned_vs_naive"] > 0 and report["target"]["tuned_cached_vs_ceiling_cached"] > 0
    assert isinstance(report["target"]["met"], bool) and len(report["machine"]["load_average"]) == 3
    assert pd.read_csv(paths["csv"])["variant"].tolist() == list(benchmark.VARIANTS)
    assert Path(paths["png"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_script_prints_the_table(small_set, tmp_path):
    result = run_script(
        "scripts.benchmark_datasets",
        f"--image_dir={small_set}",
        "--image_size=24",
        "--batch_size=8",
        "--repeats=1",
        "--variants=naive,tuned,ceiling,keras_layers",
        "--augment_hflip",
        f"--out_dir={tmp_path}",
    )
    assert result.returncode == 0, result.stderr
    assert "ex/sec after 1st" in result.stdout and "first epoch: tuned = " in result.stdout
    last_run = (
        r"^run 4/4 \(100%\)  repeat 1/1 keras_layers +[\d.]+ examples/sec +[\d.]+ CPU ms/ex  load [\d.]+  "
        r"[\d.,]+ runs/(?:sec|min)  time left 0:00$"
    )
    assert re.search(last_run, result.stdout, re.M), result.stdout
    assert (tmp_path / "benchmark.json").is_file() and (tmp_path / "benchmark.png").is_file()


def test_script_usage_errors_are_one_line(tmp_path):
    result = run_script("scripts.benchmark_datasets", f"--image_dir={tmp_path / 'none'}", "--variants=naive")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: --image_dir: ")
