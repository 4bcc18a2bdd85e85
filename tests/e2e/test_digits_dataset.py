"""The digits TFDS builder prepares real TFRecords, DatasetInfo and splits with no network."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow_datasets as tfds
from support import REPO_ROOT

import input_fns.datasets  # noqa: F401

pytestmark = pytest.mark.medium


def test_tfds_load_prepares_splits_and_info(tfds_data_dir):
    (train, test), info = tfds.load(
        "digits", split=["train", "test"], data_dir=tfds_data_dir, with_info=True, try_gcs=False
    )
    assert info.splits["train"].num_examples == 1437
    assert info.splits["test"].num_examples == 360
    assert info.features["label"].names == [str(d) for d in range(10)]
    assert info.features["image"].shape == (8, 8, 1)

    prepared = Path(tfds_data_dir, "digits", "1.0.0")
    assert (prepared / "dataset_info.json").is_file()
    assert list(prepared.glob("digits-train.tfrecord*")) and list(prepared.glob("digits-test.tfrecord*"))

    example = next(iter(tfds.as_numpy(train)))
    assert example["image"].dtype == np.uint8 and example["image"].shape == (8, 8, 1)
    assert example["image"].max() <= 255


def test_splits_are_disjoint_and_stratified(tfds_data_dir):
    train, test = tfds.load("digits", split=["train", "test"], data_dir=tfds_data_dir, try_gcs=False)
    train_images = {ex["image"].tobytes() + bytes([ex["label"]]) for ex in tfds.as_numpy(train)}
    test_labels = np.array([ex["label"] for ex in tfds.as_numpy(test)])
    test_images = {ex["image"].tobytes() + bytes([ex["label"]]) for ex in tfds.as_numpy(test)}
    # The UCI set holds a few duplicate images; the split must not put most of them on both sides.
    assert len(train_images & test_images) < 5
    counts = np.bincount(test_labels, minlength=10)
    assert counts.min() >= 34 and counts.max() <= 38


def test_tfds_build_cli_prepares_it_from_its_folder(tmp_path, tfds_data_dir):
    # `tfds new`'s layout: the tfds CLI finds digits_dataset_builder.py in the folder it is given.
    tfds_cli = Path(sys.executable).parent / "tfds"
    built = subprocess.run(
        [str(tfds_cli), "build", "input_fns/datasets/digits", f"--data_dir={tmp_path}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    info = tfds.builder("digits", data_dir=str(tmp_path), try_gcs=False).info
    assert (info.splits["train"].num_examples, info.splits["test"].num_examples) == (1437, 360)
    # The same records as the package's own registration prepares.
    ours = Path(tfds_data_dir, "digits", "1.0.0", "digits-test.tfrecord-00000-of-00001").read_bytes()
    assert Path(tmp_path, "digits", "1.0.0", "digits-test.tfrecord-00000-of-00001").read_bytes() == ours
