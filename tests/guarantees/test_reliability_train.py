"""Training faults: a NaN/Inf loss stops the run with nothing exported; a SIGKILLed run resumes."""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import tensorflow as tf
from support import run_script, start_script

from common.names import EXPORT_DIR

pytestmark = pytest.mark.medium

# RMSprop at a learning rate of 1e38 overflows the weights in its first update: the loss of step 1
# (computed before any update) is finite, the loss of step 2 is not. A real divergence, the same on
# both engines and on every run (seeded).
DIVERGING = ("--optimizer=rmsprop", "--learning_rate=1e38", "--novalidate_data", "--noreport")
FIRST_NON_FINITE_STEP = 2


@pytest.mark.parametrize("engine", ["estimator", "keras"])
def test_non_finite_loss_stops_at_the_exact_step_and_exports_nothing(engine, tfds_data_dir, tmp_path):
    def train(steps: int, model_dir: Path) -> subprocess.CompletedProcess:
        args = (f"--engine={engine}", f"--data_dir={tfds_data_dir}", f"--model_dir={model_dir}", *DIVERGING)
        return run_script("scripts.train", *args, f"--train_steps={steps}", "--eval_throttle_secs=0")

    # The step before it trains and exports: the loss is still finite there.
    before = train(FIRST_NON_FINITE_STEP - 1, tmp_path / "before")
    assert before.returncode == 0, before.stderr[-3000:]
    assert (tmp_path / "before" / EXPORT_DIR).is_dir()

    diverged = train(300, tmp_path / "model")
    assert diverged.returncode == 1, diverged.stderr[-3000:]
    assert "Traceback" not in diverged.stderr, diverged.stderr[-3000:]
    errors = [line for line in diverged.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: training stopped at step {FIRST_NON_FINITE_STEP}: the loss became NaN or infinite; "
        "nothing was exported (lower --learning_rate, check the data for NaN/Inf values, "
        "or resume from the last checkpoint)"
    ], diverged.stderr[-3000:]
    assert not (tmp_path / "model" / EXPORT_DIR).exists()
    assert "global step" not in diverged.stdout  # no summary: the run did not finish


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
    process = start_script("scripts.train", *args, stderr=subprocess.DEVNULL)
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
