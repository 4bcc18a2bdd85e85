"""The dataset benchmark: corrected tfds.benchmark figures, every variant, table, JSON, CSV and PNG."""

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from conftest import run_script

from benchmarks import dataset_benchmark as benchmark
from common.params import AugmentParams
from input_fns.preprocessing import ImageSpec


def test_figures_correct_tfds_benchmarks_extra_batch():
    # 10 batches of 32: the first ends at 1.0 s, the last at 4.0 s.
    raw = pd.DataFrame({"duration": {"start_time": 0.0, "first_batch_time": 1.0, "end_time": 4.0, "num_iter": 10}})
    timing = benchmark.corrected_timing(raw, 32)
    assert timing.examples == 320
    assert timing.examples_per_sec == pytest.approx(320 / 4.0)  # tfds says (320 + 32) / 4
    assert timing.examples_per_sec_after_first == pytest.approx(9 * 32 / 3.0)  # tfds says 320 / 3
    assert timing.first_batch_seconds == pytest.approx(1.0)


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("bench_images"))
    assert benchmark.write_benchmark_images(root, count=48, size=40, num_classes=3) == 48
    return root


def test_every_variant_runs_and_outputs_are_written(small_set, tmp_path):
    workload = benchmark.image_folder_workload(small_set, ImageSpec(24, 24, 3))
    assert workload.num_examples == 48
    cfg = benchmark.BenchmarkConfig(batch_size=8, repeats=1, augment=AugmentParams(horizontal_flip=True, zoom=0.2))
    lines = []
    results = benchmark.run(workload, cfg, progress=lines.append)
    assert [r.name for r in results] == list(benchmark.VARIANTS)
    assert len(lines) == len(benchmark.VARIANTS)
    for r in results:
        assert r.best.batches == 6 and r.best.examples == 48
        assert r.best.examples_per_sec > 0 and r.best.first_batch_seconds > 0
    table = benchmark.format_table(results)
    assert "tuned =" in table and "of ceiling" in table
    paths = benchmark.write_outputs(results, workload, cfg, str(tmp_path), command="python -m x")
    report = json.loads(Path(paths["json"]).read_text())
    assert report["command"] == "python -m x" and len(report["variants"]) == len(benchmark.VARIANTS)
    assert set(report["target"]) == {"tuned_vs_ceiling", "tuned_vs_naive", "met"}
    assert pd.read_csv(paths["csv"])["variant"].tolist() == list(benchmark.VARIANTS)
    assert Path(paths["png"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_script_prints_the_table(small_set, tmp_path):
    result = run_script(
        "scripts.benchmark_datasets",
        f"--image_dir={small_set}",
        "--image_size=24",
        "--batch_size=8",
        "--repeats=1",
        "--variants=naive,tuned,ceiling",
        "--augment_hflip",
        f"--out_dir={tmp_path}",
    )
    assert result.returncode == 0, result.stderr
    assert "ex/sec after 1st" in result.stdout and "ceiling" in result.stdout
    last_run = r"^run 3/3 \(100%\)  repeat 1/1 ceiling +[\d.]+ examples/sec  [\d.,]+ runs/(?:sec|min)  time left 0:00$"
    assert re.search(last_run, result.stdout, re.M), result.stdout
    assert (tmp_path / "benchmark.json").is_file() and (tmp_path / "benchmark.png").is_file()


def test_script_usage_errors_are_one_line(tmp_path):
    result = run_script("scripts.benchmark_datasets", f"--image_dir={tmp_path / 'none'}", "--variants=naive")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: --image_dir: ")
