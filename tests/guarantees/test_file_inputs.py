"""Entries of a data folder that are not readable files: named and skipped in one line each, never a hang.

A FIFO (whose open waits forever for a writer), a name that is not UTF-8 (which TensorFlow's
file ops cannot take) and a dangling symlink, in the folders that scripts.predict, scripts.train
(an image folder), scripts.validate_data and scripts.retrain read: every command names each one
and goes on with the rest. common/files.py is the one place that lists them.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support import retrain_dirs, run_script

from common import files

pytestmark = pytest.mark.medium

# The odd entries each test folder gets, by the name the commands print, and the reason.
FIFO, LATIN1, DANGLING = "pipe.png", "caf\\xe9.png", "gone.png"
REASONS = {
    FIFO: "not a regular file (FIFO)",
    LATIN1: "name is not UTF-8",
    DANGLING: "unreadable (No such file or directory)",
}
TIMEOUT = 300  # a hang on a FIFO fails the test here, instead of hanging the suite


def _images(folder: Path, count: int, seed: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, (8, 8), np.uint8) // 2 + 100 * (seed % 2), "L").save(folder / f"{i}.png")


def _odd_entries(folder: Path) -> None:
    """A FIFO, a PNG under a Latin-1 name (written through a bytes path) and a dangling symlink."""
    os.mkfifo(folder / FIFO)
    good = (folder / "0.png").read_bytes()
    with open(os.path.join(os.fsencode(folder), b"caf\xe9.png"), "wb") as f:
        f.write(good)
    os.symlink(folder / "nowhere.png", folder / DANGLING)


def _named_once(text: str, folder: Path, prefix: str) -> None:
    """Each odd entry of ``folder`` named with its reason, in exactly one line starting with ``prefix``."""
    for name, reason in REASONS.items():
        lines = [line for line in text.splitlines() if f"{folder}/{name}" in line and reason in line]
        assert len(lines) == 1 and lines[0].startswith(prefix), (name, text[-3000:])
    assert "Traceback" not in text, text[-3000:]


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """Two classes of 40 images; class a holds the three odd entries (3 of 83 entries: under 5%)."""
    root = tmp_path_factory.mktemp("odd_entries") / "data"
    _images(root / "a", 40, 0)
    _images(root / "b", 40, 1)
    _odd_entries(root / "a")
    return root


def test_the_listing_names_each_odd_entry_and_never_opens_it(tree):
    listing = files.list_files(str(tree / "a"))
    assert len(listing.files) == 40
    assert {(files.shown(s.path).rsplit("/", 1)[1], s.reason) for s in listing.skipped} == set(REASONS.items())


def test_predict_names_each_odd_entry_and_predicts_the_rest(trained_digits, tree):
    folder = tree / "a"
    result = run_script(
        "scripts.predict",
        f"--export_dir={trained_digits.export_path}",
        f"--images={folder}",
        "--format=csv",
        timeout=TIMEOUT,
    )
    assert result.returncode == 1, result.stderr[-3000:]
    assert len(result.stdout.strip().splitlines()) == 1 + 40  # the header, then every real image
    _named_once(result.stderr, folder, "error: ")
    assert result.stderr.strip().splitlines()[-1] == "error: 3 of 43 files not predicted (listed above)"


def test_training_and_the_gate_skip_each_odd_entry_by_name(tree, tmp_path):
    trained = run_script(
        "scripts.train",
        "--source=image_folder",
        f"--image_dir={tree}",
        f"--model_dir={tmp_path / 'model'}",
        "--gate_cache_dir=",
        "--gate_running_mode=in_memory",
        "--image_size=8",
        "--train_steps=1",
        "--batch_size=4",
        "--eval_throttle_secs=0",
        "--noreport",
        timeout=TIMEOUT,
    )
    assert trained.returncode == 0, trained.stdout[-3000:] + trained.stderr[-3000:]
    # The trainer: a warning line for each, and each counted among the files skipped.
    _named_once(trained.stderr, tree / "a", "W")  # absl's warning prefix
    assert "image_folder: 80 images used; 3 skipped" in trained.stderr, trained.stderr[-3000:]
    # The gate: each a bad record naming it, the verdict saying how many were skipped.
    assert "validation: 80 examples clean but 3 bad files skipped" in trained.stdout, trained.stdout
    validated = run_script(
        "scripts.validate_data",
        f"--data={tree}",
        f"--artifacts_dir={tmp_path / 'artifacts'}",
        "--direct_running_mode=in_memory",
        timeout=TIMEOUT,
    )
    assert validated.returncode == 0, validated.stdout[-3000:] + validated.stderr[-3000:]
    _named_once(validated.stdout, tree / "a", "    ")  # the summary's bad-record lines
    assert "80 examples, 3 bad records" in validated.stdout


def test_retraining_skips_each_odd_entry_in_the_span_and_the_holdout(tmp_path):
    span, holdout = tmp_path / "spans" / "span-1", tmp_path / "holdout"
    for root in (span, holdout):
        _images(root / "a", 40, 0)
        _images(root / "b", 40, 1)
        _odd_entries(root / "a")
    result = run_script(
        "scripts.retrain",
        *retrain_dirs(tmp_path, holdout),
        "--model_name=odd",
        "--train_steps=2",
        "--batch_size=8",
        "--eval_throttle_secs=600",
        "--validation_running_mode=in_memory",
        "--image_size=8",
        "--noreport",
        "--bless_floor=0",
        timeout=TIMEOUT,
    )
    assert result.returncode in (0, 5), result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    out = result.stdout + result.stderr
    _named_once_at_least(out, span / "a")
    _named_once_at_least(out, holdout / "a")


def _named_once_at_least(text: str, folder: Path) -> None:
    for name, reason in REASONS.items():
        assert any(f"{folder}/{name}" in line and reason in line for line in text.splitlines()), (name, text[-4000:])
