"""Bad input through the commands users run: scripts.validate_data and scripts.train.

Unusable image files are named with their reason and refused above the one threshold
(--max_bad_record_fraction) by the gate and by the trainer's --check_images alike; a torn
TFRecord is refused (exit 3) naming the file; the label of class folders named 0-9 gets its
drift check; the printed verdict matches the exit status; and every drift and skew
comparator is held to its threshold on both sides of it.
"""

from __future__ import annotations

import json
import math
import re
from concurrent import futures
from pathlib import Path

import pytest
import tensorflow as tf
from support import image_tree, jpeg, noise, one_error_line, png, run_script
from tensorflow_metadata.proto.v0 import schema_pb2

from pipeline.validation import schema
from pipeline.validation.config import Thresholds

pytestmark = pytest.mark.medium

VALIDATE = "scripts.validate_data"
TRAIN = "scripts.train"
IN_MEMORY = "--direct_running_mode=in_memory"
TRAIN_ARGS = ("--train_steps=1", "--eval_throttle_secs=0", "--noreport", "--image_size=8", "--batch_size=4")


def _jpeg(seed: int) -> bytes:
    return jpeg(noise(seed, (16, 16, 3)))


def _image_tree(root: Path, classes: tuple[str, ...], per_class: int, bad: dict[str, bytes] | None = None) -> Path:
    return image_tree(root, classes, per_class, lambda c, i: _jpeg(100 * c + i), ".jpg", bad)


TRUNCATED = _jpeg(999)[: len(_jpeg(999)) // 2]
BAD_FILES = {
    "a/cut.jpg": TRUNCATED,
    "a/empty.jpg": b"",
    "b/notes.png": b"these are words, not pixels\n" * 4,
    "b/photo.webp": b"RIFF\x10\x00\x00\x00WEBPVP8 ",
}
# What each bad file is called in the output: path and reason.
REASONS = {
    "a/cut.jpg": "truncated JPEG",
    "a/empty.jpg": "zero bytes",
    "b/notes.png": "not an image (text)",
    "b/photo.webp": "unsupported format .webp",
}


@pytest.fixture(scope="module")
def trees(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bad_input")
    return {
        # 4 bad of 44 files (9%): above the default 5%, below 10%.
        "dirty": _image_tree(root / "dirty", ("a", "b"), 20, BAD_FILES),
        # 1 bad of 41 (2.4%): below the default.
        "one_bad": _image_tree(root / "one_bad", ("a", "b"), 20, {"a/cut.jpg": TRUNCATED}),
        "one_webp": _image_tree(root / "one_webp", ("a", "b"), 20, {"b/photo.webp": BAD_FILES["b/photo.webp"]}),
        "digits": _image_tree(root / "digits", tuple(str(i) for i in range(10)), 3),
        "digits_0_2": _image_tree(root / "digits_0_2", ("0", "1", "2"), 3),
    }


def _parallel(*calls):
    """Independent commands side by side (each is mostly one process's start-up)."""
    with futures.ThreadPoolExecutor(len(calls)) as pool:
        return [f.result() for f in [pool.submit(run, *args) for run, *args in calls]]


# --- 1, 2: unusable images, the gate ------------------------------------------------------------


def test_gate_names_bad_images_and_refuses_above_the_threshold(trees, tmp_path):
    data = f"--data={trees['dirty']}"
    refused, allowed = _parallel(
        (run_script, VALIDATE, data, f"--artifacts_dir={tmp_path / 'a'}", IN_MEMORY),
        (run_script, VALIDATE, data, f"--artifacts_dir={tmp_path / 'b'}", IN_MEMORY, "--max_bad_record_fraction=0.1"),
    )
    # Before: a truncated JPEG failed the Beam job (exit 1, "Graph execution error"), naming nothing.
    assert refused.returncode == 3, refused.stdout[-3000:] + refused.stderr[-3000:]
    assert "span 0 (TRAINING): REFUSED" in refused.stdout and "40 examples, 4 bad records" in refused.stdout
    for relative, reason in REASONS.items():
        assert f"{trees['dirty'] / relative}: {reason}" in refused.stdout, refused.stdout
    assert "above --max_bad_record_fraction=0.05" in refused.stdout
    # The same files under a higher threshold: let through, still named and counted.
    assert allowed.returncode == 0, allowed.stdout[-3000:] + allowed.stderr[-3000:]
    assert "span 0 (TRAINING): CLEAN" in allowed.stdout
    assert all(f"{trees['dirty'] / relative}: {reason}" in allowed.stdout for relative, reason in REASONS.items())
    counts = json.loads((tmp_path / "b" / "spans" / "span-0" / "result.json").read_text())["bad_record_counts"]
    assert counts["data"] == {reason: 1 for reason in REASONS.values()}


# --- 1, 2: unusable images, the trainer ---------------------------------------------------------


def test_trainer_names_skipped_images_and_refuses_above_the_same_threshold(trees, tmp_path):
    refused, one_bad, unchecked = _parallel(
        (run_script, TRAIN, "--source=image_folder", f"--image_dir={trees['dirty']}", "--novalidate_data",
         f"--model_dir={tmp_path / 'm1'}", *TRAIN_ARGS),
        (run_script, TRAIN, "--source=image_folder", f"--image_dir={trees['one_bad']}", "--novalidate_data",
         f"--model_dir={tmp_path / 'm2'}", *TRAIN_ARGS),
        (run_script, TRAIN, "--source=image_folder", f"--image_dir={trees['one_webp']}", "--novalidate_data",
         "--nocheck_images", f"--model_dir={tmp_path / 'm3'}", *TRAIN_ARGS),
    )  # fmt: skip
    # 4 of 44 (9%): refused with the gate's exit status, every file named with its reason.
    assert refused.returncode == 3, refused.stderr[-3000:]
    line = one_error_line(refused, status=3)
    assert "4 of 44 files (9.1%)" in line and "above --max_bad_record_fraction=0.05" in line, line
    for relative, reason in REASONS.items():
        assert f"1 {reason} ({relative})" in line, line
    # 1 of 41: skipped, counted and named; training goes on.
    assert one_bad.returncode == 0, one_bad.stderr[-3000:]
    assert "image_folder: 40 images used; 1 skipped: 1 truncated JPEG (a/cut.jpg)" in one_bad.stderr
    # --nocheck_images: the unchecked files are counted, the .webp is still named, nothing vanishes.
    assert unchecked.returncode == 0, unchecked.stderr[-3000:]
    assert "image_folder: 40 images used without a decode check (--nocheck_images): 40 files not checked" in (
        unchecked.stderr
    )
    assert "1 skipped: 1 unsupported format .webp (b/photo.webp)" in unchecked.stderr


# --- 3: class folders named 0-9 -----------------------------------------------------------------


def test_digit_class_folders_get_label_drift(trees, tmp_path):
    artifacts = f"--artifacts_dir={tmp_path / 'a'}"
    first = run_script(VALIDATE, f"--data={trees['digits']}", artifacts, IN_MEMORY)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    only_three = run_script(VALIDATE, f"--data={trees['digits_0_2']}", artifacts, IN_MEMORY)
    # Before: TFDV inferred an int_domain on the bytes "0".."9", no comparator was set: CLEAN.
    assert only_three.returncode == 3, only_three.stdout[-3000:]
    assert any(line.startswith("drift  label") for line in only_three.stdout.splitlines()), only_three.stdout
    result = json.loads((tmp_path / "a" / "spans" / "span-1" / "result.json").read_text())
    (label,) = [m for m in result["measurements"] if m["feature"] == "label"]
    assert label["metric"] == "L-infinity" and label["value"] == pytest.approx(1 / 3 - 1 / 10)


def test_label_comparator_whatever_the_curated_domain_says():
    # A schema curated before the fix: the bytes label with TFDV's (empty) int_domain.
    legacy = schema_pb2.Schema()
    label = legacy.feature.add(name="label", type=schema_pb2.BYTES)
    label.int_domain.SetInParent()
    label.not_in_environment.append(schema.SERVING)
    compared = schema.with_comparators(legacy, Thresholds(), label="label")
    assert compared.feature[0].drift_comparator.infinity_norm.threshold == Thresholds().categorical_drift


# --- 4, 6: the gate's verdict line, a torn TFRecord through scripts.train ----------------------


def _tfrecords(path: Path, n: int, seed: int) -> Path:
    with tf.io.TFRecordWriter(str(path)) as writer:
        for i in range(n):
            feature = {
                "image": tf.train.Feature(
                    bytes_list=tf.train.BytesList(value=[png(noise(seed * 1000 + i, (8, 8, 3)))])
                ),
                "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[i % 2])),
            }
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    return path


def test_torn_tfrecord_is_refused_and_the_verdict_line_says_so(tmp_path):
    whole = _tfrecords(tmp_path / "train.tfrecord", 40, 0).read_bytes()
    torn = tmp_path / "torn.tfrecord"
    torn.write_bytes(whole + whole[: len(whole) // 3])  # a second copy cut off in a record
    val = _tfrecords(tmp_path / "val.tfrecord", 8, 1)
    args = ("--source=tfrecord", f"--train_files={torn}", f"--validation_files={val}", "--on_corrupt_record=skip")
    args = (*args, "--validate_data", *TRAIN_ARGS)
    refused, allowed = _parallel(
        (run_script, TRAIN, *args, f"--model_dir={tmp_path / 'm1'}"),
        (run_script, TRAIN, *args, "--allow_anomalies", f"--model_dir={tmp_path / 'm2'}"),
    )
    # Before: exit 1, "the statistics job failed", and the file was not named.
    assert refused.returncode == 3, refused.stdout[-3000:] + refused.stderr[-3000:]
    verdict = next(line for line in refused.stdout.splitlines() if line.startswith("validation: "))
    # Before: "ALLOWED despite findings (--allow_anomalies)" was printed, then exit 3.
    assert "REFUSED: bad records (data): " in verdict and "ALLOWED" not in verdict, verdict
    assert f"'{torn}' is a corrupt TFRecord file" in verdict, verdict
    assert "data validation refused span 0" in one_error_line(refused, status=3)
    assert allowed.returncode == 0, allowed.stderr[-3000:]
    verdict = next(line for line in allowed.stdout.splitlines() if line.startswith("validation: "))
    assert "ALLOWED despite findings (--allow_anomalies)" in verdict, verdict


# --- 5: every comparator on both sides of its threshold ------------------------------------------


def _entropy(p: float) -> float:
    return -sum(q * math.log2(q) for q in (p, 1 - p) if q > 0)


def _jensen_shannon(p: float, q: float) -> float:
    """Between two-valued distributions (a value 0/1 taken with probability p and q), in bits as TFDV reports it."""
    return _entropy((p + q) / 2) - (_entropy(p) + _entropy(q)) / 2


def _span_csv(path: Path, share_a: int, share_ones: int, n: int = 100) -> Path:
    """``c``: share_a of n rows are 'a', the rest 'b'; ``x``: share_ones of n rows are 1.0, the rest 0.0."""
    rows = [f"{'a' if i < share_a else 'b'},{1.0 if i < share_ones else 0.0}" for i in range(n)]
    path.write_text("c,x\n" + "\n".join(rows) + "\n")
    return path


# The baseline (previous span and serving data): c is 50% 'a', x is 50% ones. Each shifted span
# moves both: L-infinity 0.09 / 0.11 on c and Jensen-Shannon 0.091 / 0.120 on x, around the 0.1 defaults.
UNDER = {"c": 0.59, "x": 0.83}
OVER = {"c": 0.61, "x": 0.87}


def _expected(shift: dict[str, float]) -> dict[str, float]:
    return {"c": shift["c"] - 0.5, "x": _jensen_shannon(0.5, shift["x"])}


@pytest.fixture(scope="module")
def comparator_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("thresholds")
    base = _span_csv(root / "base.csv", 50, 50)
    artifacts = root / "artifacts"
    common = (f"--artifacts_dir={artifacts}", "--label_feature=", IN_MEMORY)
    first = run_script(VALIDATE, f"--data={base}", *common, "--span=0")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    # Both shifted spans measured against span 0 (drift) and the baseline as serving data (skew).
    against = (f"--previous_statistics={artifacts / 'spans' / 'span-0' / 'statistics.pb'}", f"--serving_data={base}")
    runs = {}
    for span, (name, shift) in enumerate((("under", UNDER), ("over", OVER)), start=1):
        data = _span_csv(root / f"{name}.csv", round(shift["c"] * 100), round(shift["x"] * 100))
        runs[name] = (run_script, VALIDATE, f"--data={data}", *common, *against, f"--span={span}")
    under, over = _parallel(*runs.values())

    def result(span: int) -> dict:
        return json.loads((artifacts / "spans" / f"span-{span}" / "result.json").read_text())

    return {"under": (under, result(1)), "over": (over, result(2))}


@pytest.mark.parametrize("check", ["drift", "skew"])
@pytest.mark.parametrize("feature, metric", [("c", "L-infinity"), ("x", "Jensen-Shannon")])
def test_each_comparator_holds_its_threshold_on_both_sides(comparator_runs, check, feature, metric):
    under, under_result = comparator_runs["under"]
    over, over_result = comparator_runs["over"]
    assert under.returncode == 0, under.stdout[-3000:]
    assert over.returncode == 3, over.stdout[-3000:]
    for result, shift, flagged in ((under_result, UNDER, False), (over_result, OVER, True)):
        (m,) = [m for m in result["measurements"] if m["kind"] == check and m["feature"] == feature]
        assert m["metric"] == metric and m["threshold"] == pytest.approx(0.1)
        assert m["value"] == pytest.approx(_expected(shift)[feature], abs=1e-4)
        assert m["flagged"] is flagged
        found = {(f["kind"], f["feature"]) for f in result["findings"]}
        assert ((check, feature) in found) is flagged, result["findings"]


# --- one rule for the bad-record fraction, exactly at the threshold ----------------------------


@pytest.fixture(scope="module")
def at_threshold(tmp_path_factory) -> Path:
    """38 good and 2 bad files: exactly 5%, the default --max_bad_record_fraction."""
    root = tmp_path_factory.mktemp("at_threshold")
    return _image_tree(root / "data", ("a", "b"), 19, {"a/cut.jpg": TRUNCATED, "b/empty.jpg": b""})


def test_exactly_at_the_threshold_the_gate_and_the_trainer_give_the_same_verdict(at_threshold, tmp_path):
    data, image_dir = f"--data={at_threshold}", f"--image_dir={at_threshold}"
    gate_at, gate_below, train_at, train_below, gated = _parallel(
        (run_script, VALIDATE, data, f"--artifacts_dir={tmp_path / 'a'}", IN_MEMORY),
        (run_script, VALIDATE, data, f"--artifacts_dir={tmp_path / 'b'}", IN_MEMORY, "--max_bad_record_fraction=0.049"),
        (run_script, TRAIN, "--source=image_folder", image_dir, "--novalidate_data", f"--model_dir={tmp_path / 'm1'}",
         *TRAIN_ARGS),
        (run_script, TRAIN, "--source=image_folder", image_dir, "--novalidate_data", f"--model_dir={tmp_path / 'm2'}",
         "--max_bad_record_fraction=0.049", *TRAIN_ARGS),
        (run_script, TRAIN, "--source=image_folder", image_dir, f"--model_dir={tmp_path / 'm3'}",
         "--gate_cache_dir=", "--gate_running_mode=in_memory", *TRAIN_ARGS),
    )  # fmt: skip
    # 2 of 40 at 0.05: let through by both, and neither calls the data plainly clean.
    assert gate_at.returncode == 0, gate_at.stdout[-3000:] + gate_at.stderr[-3000:]
    assert "CLEAN but 2 bad records skipped" in gate_at.stdout, gate_at.stdout
    assert train_at.returncode == 0, train_at.stderr[-3000:]
    assert "image_folder: 38 images used; 2 skipped" in train_at.stderr, train_at.stderr[-3000:]
    assert gated.returncode == 0, gated.stdout[-3000:] + gated.stderr[-3000:]
    assert "validation: 38 examples clean but 2 bad files skipped; report" in gated.stdout, gated.stdout
    assert re.search(r"^gate {2,}38 examples clean but 2 bad files skipped$", gated.stdout, re.M), gated.stdout
    # Just under it: refused by both, with the same exit status.
    assert gate_below.returncode == 3 and "above --max_bad_record_fraction=0.049" in gate_below.stdout
    assert train_below.returncode == 3, train_below.stderr[-3000:]
    assert "2 of 40 files (5.0%)" in one_error_line(train_below, status=3)
