"""Training faults: a NaN/Inf loss stops the run with nothing exported; a SIGKILLed run resumes."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tensorflow as tf
from conftest import REPO_ROOT, run_script

from common.errors import NonFiniteLossError
from common.names import EXPORT_DIR
from common.params import DataParams, Hparams, ModelParams, OutputParams, TrainingParams
from pipeline import train


@pytest.mark.parametrize("engine", ["estimator", "keras"])
def test_non_finite_loss_stops_naming_the_step_and_exports_nothing(engine, tfds_data_dir, tmp_path):
    # SGD with a learning rate of 1e38 overflows the weights within a few steps: a real divergence.
    hp = Hparams(
        data=DataParams(data_dir=tfds_data_dir),
        model=ModelParams(learning_rate=1e38),
        training=TrainingParams(engine=engine, optimizer="sgd", train_steps=300, progress_every_steps=1000),
        output=OutputParams(model_dir=str(tmp_path / "model")),
    )
    with pytest.raises(NonFiniteLossError, match=r"training stopped at step \d+: the loss became NaN or infinite"):
        train.run(hp)
    assert not (tmp_path / "model" / EXPORT_DIR).exists()


def _figure(stdout: str, label: str) -> float:
    """The number on the summary line that starts with ``label`` (``test accuracy        0.9806  (on test)``)."""
    line = next(line for line in stdout.splitlines() if line.startswith(label + " "))
    return float(line[len(label) :].split()[0])


def _checkpoint_step(model_dir: Path) -> int:
    latest = tf.train.latest_checkpoint(str(model_dir))
    return int(latest.rsplit("-", 1)[-1]) if latest else 0


def test_sigkilled_run_resumes_from_its_newest_checkpoint(tfds_data_dir, tmp_path):
    model_dir = tmp_path / "model"
    args = [
        f"--data_dir={tfds_data_dir}",
        f"--model_dir={model_dir}",
        "--train_steps=1500",
        "--novalidate_data",
        "--save_checkpoints_steps=100",
        "--progress_every_steps=100",
        "--eval_throttle_secs=600",
    ]
    process = subprocess.Popen(
        [sys.executable, "-m", "scripts.train", *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        for line in process.stdout:
            if line.startswith("step 500/") or time.monotonic() > deadline:
                break
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    killed_at = _checkpoint_step(model_dir)
    assert 100 <= killed_at < 1500, "the run must have been killed part-way, after a checkpoint"

    resumed = run_script("scripts.train", *args)
    assert resumed.returncode == 0, resumed.stderr
    progress = [line for line in resumed.stdout.splitlines() if line.startswith("step ")]
    # The resumed run continues from the checkpoint: its first progress line is past it, not at step 100.
    first_step = int(progress[0].split()[1].split("/")[0])
    assert killed_at < first_step <= killed_at + 100
    assert _figure(resumed.stdout, "global step") == 1500
    accuracy = _figure(resumed.stdout, "test accuracy")
    assert accuracy > 0.95  # the uninterrupted 2,000-step run reaches 0.989; 1,500 resumed steps land close
