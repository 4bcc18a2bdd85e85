"""A disk that fills up (RLIMIT_FSIZE: writes fail with EFBIG) or a model_dir that cannot be written:
one error line, a non-zero status, and the last good checkpoint kept."""

from __future__ import annotations

import resource
import signal
import subprocess

import pytest
import tensorflow as tf
from support import error_lines, run_script, train

from estimators.engines import checkpoints

pytestmark = pytest.mark.medium

LIMIT_BYTES = 64 * 1024


def _small_disk() -> None:
    # Writes past LIMIT_BYTES fail with EFBIG (as on a full disk) instead of killing with SIGXFSZ.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT_BYTES, LIMIT_BYTES))


def _train(data_dir: str, model_dir: str, steps: int, preexec=None) -> subprocess.CompletedProcess:
    args = [
        f"--train_steps={steps}",
        "--save_checkpoints_steps=2",
        "--eval_steps=1",
        "--eval_throttle_secs=0",
    ]
    return train(data_dir, model_dir, *args, preexec_fn=preexec)


def test_full_disk_mid_run_is_one_line_and_keeps_the_checkpoint(tfds_data_dir, tmp_path):
    model_dir = str(tmp_path / "model")
    first = _train(tfds_data_dir, model_dir, steps=4)
    assert first.returncode == 0, first.stderr[-2000:]
    good = tf.train.latest_checkpoint(model_dir)
    assert good and checkpoints.is_readable(good)
    good_step = tf.train.load_checkpoint(good).get_tensor("global_step")

    result = _train(tfds_data_dir, model_dir, steps=40, preexec=_small_disk)
    # The documented status of a run that started and could not finish (docs/reliability.md).
    assert result.returncode == 1, f"exit {result.returncode}\n{result.stderr[-3000:]}"
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: cannot write: "), result.stderr[-2000:]
    assert lines[0].endswith("then rerun to resume"), lines[0]
    # The newest readable checkpoint is the good one (or a later one that was completely written).
    latest = checkpoints.resume_point(model_dir) or tf.train.latest_checkpoint(model_dir)
    assert latest and checkpoints.is_readable(good)
    assert tf.train.load_checkpoint(good).get_tensor("global_step") == good_step


def test_unwritable_model_dir_fails_before_training(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = run_script("scripts.train", f"--model_dir={blocker}/model", "--train_steps=1", timeout=300)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: --model_dir:") and "not a writable directory" in lines[0]
