"""scripts.compare_backbones through the front door: three small backbones (weights=none) on digits at 32x32.

A comparison is killed after its first backbone and rerun with a third backbone and fine-tuning:
the finished one is skipped, the killed one redone, the new one run, the best fine-tuned; the
ranked table, CSV, JSON and PNG hold all three. Bad input is one line and exit status 2.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys

import pytest
from support import REPO_ROOT, run_script

pytestmark = pytest.mark.large

SCRIPT = "scripts.compare_backbones"
# A slice of digits, one epoch (4 steps) on a random base: the figures are real, the accuracies near chance.
SPLITS = ["--train_split=train[:256]", "--validation_split=train[256:320]", "--test_split=test[:64]"]
COMMON = [*SPLITS, "--weights=none", "--image_size=32", "--epochs=1", "--batch_size=64", "--eval_throttle_secs=0"]
COMMON += ["--noreport"]
# Keras's own counts with include_top=False, plus the head: 512 (or 1280) features x 10 classes + 10 biases.
VGG16_PARAMS, VGG16_HEAD = 14_714_688 + 5_130, 5_130
MOBILENET_V2_PARAMS = 2_257_984 + 12_810


def _args(tfds_data_dir: str, out_dir, *extra: str) -> list[str]:
    return [f"--data_dir={tfds_data_dir}", f"--out_dir={out_dir}", *COMMON, *extra]


def _killed_after_first_backbone(args: list[str]) -> str:
    """Run the comparison and kill it (its whole process group, children included) once a backbone is done."""
    proc = subprocess.Popen(
        [sys.executable, "-m", SCRIPT, *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    seen = []
    try:
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("backbones 1/2"):
                os.killpg(proc.pid, signal.SIGKILL)
                break
    finally:
        proc.wait(timeout=60)
    return "".join(seen)


@pytest.fixture(scope="module")
def resumed(tfds_data_dir, tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("compare")
    first = _killed_after_first_backbone(_args(tfds_data_dir, out_dir, "--backbones=mobilenet_v2,vgg16"))
    assert "backbones 1/2 (50%)" in first, first[-3000:]
    fine_tune = ["--fine_tune_top=1", "--fine_tune_steps=5", "--fine_tune_fraction=0.1"]
    args = _args(tfds_data_dir, out_dir, "--backbones=mobilenet_v2,vgg16,nasnet_mobile", *fine_tune)
    second = run_script(SCRIPT, *args, timeout=1200)  # minutes on a loaded 2-core machine
    assert second.returncode == 0, second.stderr[-3000:] + second.stdout[-3000:]
    return out_dir, first, second.stdout


def test_a_killed_comparison_resumes_with_the_backbones_it_had_not_finished(resumed):
    out_dir, first, second = resumed
    assert "  mobilenet_v2: bottleneck: computed 256 train feature vectors" in first
    assert "finished in an earlier run, skipped: mobilenet_v2" in second
    assert "heads to train: 2 (4 steps each, batch 64)" in second
    # The finished backbone did not run again; the killed one and the new one did, with progress lines.
    assert "  mobilenet_v2: bottleneck" not in second.split("fine-tuning 1/1")[0]
    for backbone in ("vgg16", "nasnet_mobile"):
        assert f"  {backbone}: bottleneck: computed 256 train feature vectors" in second
        assert f"  {backbone}: step 4/4 (100%)" in second
    assert "backbones 1/2 (50%)" in second and "backbones 2/2 (100%)" in second and "time left" in second


def test_the_ranking_is_written_as_text_csv_json_and_png(resumed):
    out_dir, _, stdout = resumed
    with open(out_dir / "ranking.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["rank"] for r in rows] == ["1", "2", "3"]
    assert {r["backbone"] for r in rows} == {"mobilenet_v2", "vgg16", "nasnet_mobile"}
    accuracies = [float(r["validation_accuracy"]) for r in rows]
    assert accuracies == sorted(accuracies, reverse=True)
    by_name = {r["backbone"]: r for r in rows}
    # Each backbone's inputs had its own normalisation, not one /255 for all (the lecture's bug).
    assert {n: r["preprocessing"] for n, r in by_name.items()} == {
        "vgg16": "caffe",
        "mobilenet_v2": "tf",
        "nasnet_mobile": "tf",
    }
    assert int(by_name["vgg16"]["params_total"]) == VGG16_PARAMS
    assert int(by_name["vgg16"]["params_trainable"]) == VGG16_HEAD
    assert int(by_name["mobilenet_v2"]["params_total"]) == MOBILENET_V2_PARAMS
    for row in rows:
        assert row["status"] == "ok" and 0.0 <= float(row["test_accuracy"]) <= 1.0
        assert float(row["extraction_seconds"]) > 0 and int(row["extraction_examples"]) == 256 + 64 + 64
        assert float(row["epoch_seconds"]) > 0 and float(row["peak_rss_mb"]) > 100
    # The best head, and only it, was fine-tuned: more trainable parameters (the top of its base).
    best, *rest = rows
    assert best["fine_tune_status"] == "ok" and 0.0 <= float(best["fine_tune_validation_accuracy"]) <= 1.0
    assert int(best["fine_tune_params_trainable"]) > int(best["params_trainable"])
    assert all(r["fine_tune_status"] == "" for r in rest)

    record = json.loads((out_dir / "ranking.json").read_text())
    assert [r["backbone"] for r in record["rows"]] == [r["backbone"] for r in rows]
    assert record["chance_accuracy"] == pytest.approx(0.1)
    table = (out_dir / "ranking.txt").read_text()
    assert table.strip() in stdout
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["rank", "backbone", "preprocessing"]
    assert [line.split()[1] for line in lines[1:]] == [r["backbone"] for r in rows]
    png = (out_dir / "ranking.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_other_settings_in_the_same_out_dir_are_refused(resumed, tfds_data_dir):
    out_dir, _, _ = resumed
    before = (out_dir / "results.json").read_text()
    args = _args(tfds_data_dir, out_dir, "--backbones=vgg16")
    proc = run_script(SCRIPT, *[a.replace("--image_size=32", "--image_size=48") for a in args])
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines() == [
        f"error: --out_dir: {out_dir} holds a comparison with other settings "
        "(data.image_size: 32 then, 48 now); rerun with those settings to resume it, or use another --out_dir"
    ]
    assert (out_dir / "results.json").read_text() == before


def test_an_unknown_backbone_is_one_line_and_exit_2(tfds_data_dir, tmp_path):
    proc = run_script(SCRIPT, *_args(tfds_data_dir, tmp_path / "out", "--backbones=vgg16,resnet_bogus"))
    assert proc.returncode == 2
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("error: --backbones: unknown backbone resnet_bogus; allowed: all, or ")
    assert "vgg16" in line and "hub" not in line.split("allowed:")[1]
    assert not (tmp_path / "out").exists()


def test_a_named_backbone_below_its_minimum_size_is_refused_before_anything_runs(tfds_data_dir, tmp_path):
    args = [a.replace("--image_size=32", "--image_size=16") for a in _args(tfds_data_dir, tmp_path / "out")]
    proc = run_script(SCRIPT, *args, "--backbones=mobilenet_v2")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: --image_size: 'mobilenet_v2' needs images of at least 32x32; got 16x16"
    ]
    assert not (tmp_path / "out").exists()


def test_all_at_a_size_no_backbone_takes_is_refused_naming_each_minimum(tfds_data_dir, tmp_path):
    args = [a.replace("--image_size=32", "--image_size=16") for a in _args(tfds_data_dir, tmp_path / "out")]
    proc = run_script(SCRIPT, *args, "--backbones=all")
    assert proc.returncode == 2
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("error: --image_size: fits none of the backbones: ")
    assert "'vgg16' needs images of at least 32x32; got 16x16" in line
    assert not (tmp_path / "out").exists()
