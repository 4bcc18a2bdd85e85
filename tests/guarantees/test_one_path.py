"""One path: every source, flag and role goes through the mechanism it names, proved through scripts.train."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from support import train

pytestmark = pytest.mark.medium


def _train(data_dir: str, model_dir: Path, *args: str):
    return train(
        data_dir,
        model_dir,
        "--eval_throttle_secs=0",
        "--progress_every_steps=1000",
        *args,
    )


def _figure(stdout: str, label: str) -> float:
    line = next(line for line in stdout.splitlines() if line.startswith(label))
    return float(line[len(label) :].split()[0])


def _last_scalar(event_dir: Path, tag: str) -> float:
    values = [
        float(tf.make_ndarray(v.tensor)) if v.HasField("tensor") else v.simple_value
        for path in sorted(event_dir.glob("events.out.tfevents.*"))
        for event in tf.compat.v1.train.summary_iterator(str(path))
        for v in event.summary.value
        if v.tag == tag
    ]
    return values[-1]


@pytest.fixture(scope="module")
def default_run(tfds_data_dir, tmp_path_factory):
    """The default command (TFDS digits, gate on) with few steps: its model_dir and output."""
    model_dir = tmp_path_factory.mktemp("default") / "model"
    result = _train(tfds_data_dir, model_dir, "--train_steps=60")
    assert result.returncode == 0, result.stderr
    return model_dir, result.stdout


def test_model_is_chosen_on_validation_and_reported_on_test(default_run):
    model_dir, stdout = default_run
    assert "validation accuracy" in stdout and "(on train[80%:]; chose the model)" in stdout
    assert "test accuracy" in stdout and "(on test)" in stdout
    # The Estimator's evaluations (BestExporter, early stopping) ran on validation; the report's on test.
    validation, test = _last_scalar(model_dir / "eval", "accuracy"), _last_scalar(model_dir / "eval_test", "accuracy")
    assert validation == pytest.approx(_figure(stdout, "validation accuracy"), abs=1e-4)
    assert test == pytest.approx(_figure(stdout, "test accuracy"), abs=1e-4)
    # 287 validation and 360 test examples share no factor: an accuracy over one is no fraction of the other.
    assert 0 < validation < 1 and round(validation * 287) == pytest.approx(validation * 287, abs=1e-3)
    assert round(test * 360) == pytest.approx(test * 360, abs=1e-3)
    report = (model_dir / "report" / "report.json").read_text()
    assert '"split": "test"' in report and '"examples": 360' in report


def test_augmentation_and_synthetic_data_reach_the_default_source(default_run, tfds_data_dir, tmp_path):
    plain = (default_run[0] / "graph.pbtxt").read_text()
    assert "TFRecordDataset" in plain and "ImageProjectiveTransformV3" not in plain

    augmented = _train(tfds_data_dir, tmp_path / "aug", "--train_steps=2", "--novalidate_data", "--augment_rotation=40")
    assert augmented.returncode == 0, augmented.stderr
    assert "ImageProjectiveTransformV3" in (tmp_path / "aug" / "graph.pbtxt").read_text()

    fake = _train(tfds_data_dir, tmp_path / "syn", "--train_steps=2", "--novalidate_data", "--synthetic_data")
    assert fake.returncode == 0, fake.stderr
    graph = (tmp_path / "syn" / "graph.pbtxt").read_text()
    assert "TFRecordDataset" not in graph and "StatelessRandomUniform" in graph


def test_truncated_tfds_shard_is_one_line_before_training(tfds_data_dir, tmp_path):
    data_dir = tmp_path / "tfds"
    shutil.copytree(tfds_data_dir, data_dir)
    shard = next(data_dir.rglob("digits-train.tfrecord-*"))
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    result = _train(str(data_dir), tmp_path / "model", "--train_steps=50")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and shard.name in result.stderr and "Traceback" not in result.stderr
    assert "step " not in result.stdout


@pytest.fixture(scope="module")
def wine_csv(tmp_path_factory) -> Path:
    """A wine-quality-shaped CSV (';'-separated, numeric columns, a 'quality' label)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4))
    quality = (x[:, 0] + x[:, 1] > 0).astype(int) + 5
    path = tmp_path_factory.mktemp("csv") / "wine.csv"
    frame = pd.DataFrame({"fixed acidity": x[:, 0], "alcohol": x[:, 1], "ph": x[:, 2], "sulphates": x[:, 3]})
    frame.assign(quality=quality).to_csv(path, sep=";", index=False)
    return path


@pytest.mark.parametrize("model", ["dnn", "canned_dnn"])
def test_csv_trains_tabular_models_from_the_command(wine_csv, tmp_path, model):
    args = [f"--train_files={wine_csv}", "--csv_separator=;", "--label_key=quality", f"--model={model}"]
    result = _train("", tmp_path / "model", "--source=csv", *args, "--train_steps=200", "--novalidate_data")
    assert result.returncode == 0, result.stderr
    assert _figure(result.stdout, "validation accuracy") > 0.8
    assert "no test data, so this is the split that chose the model" in result.stdout
    assert list((tmp_path / "model" / "export" / "serving").glob("*/saved_model.pb"))


def test_image_model_on_tabular_data_is_a_usage_error(wine_csv, tmp_path):
    args = [f"--train_files={wine_csv}", "--csv_separator=;", "--label_key=quality", "--model=small_cnn"]
    result = _train("", tmp_path / "model", "--source=csv", *args, "--novalidate_data")
    assert result.returncode == 2
    assert "--model: 'small_cnn' reads images" in result.stderr and "canned_dnn" in result.stderr


def test_arrays_source_from_the_command(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 240)
    images = np.where(labels[:, None, None] == 1, 200, 30).astype(np.uint8) + rng.integers(
        0, 20, (240, 12, 12), np.uint8
    )
    path = tmp_path / "arrays.npz"
    np.savez(path, x_train=images[:200], y_train=labels[:200], x_test=images[200:], y_test=labels[200:])
    result = _train("", tmp_path / "model", "--source=arrays", f"--array_file={path}", "--train_steps=60")
    assert result.returncode == 2 and "--novalidate_data" in result.stderr  # the gate reads files; arrays have none
    result = _train(
        "", tmp_path / "model", "--source=arrays", f"--array_file={path}", "--train_steps=60", "--novalidate_data"
    )
    assert result.returncode == 0, result.stderr
    assert f"(on {path} x_test)" in result.stdout and _figure(result.stdout, "test accuracy") > 0.9
