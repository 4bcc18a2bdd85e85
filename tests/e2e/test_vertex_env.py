"""Vertex AI's AIP_ variables through `python -m scripts.train`: checkpoints in AIP_CHECKPOINT_DIR,
the final SavedModel at the root of AIP_MODEL_DIR, and --model_dir winning over its variable."""

from __future__ import annotations

import os
import subprocess

import pytest
from support import run_script

pytestmark = [pytest.mark.large, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def _train(tfds_data_dir: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return run_script(
        "scripts.train",
        f"--data_dir={tfds_data_dir}",
        "--train_steps=2",
        "--novalidate_data",
        "--noreport",
        *args,
        env=env,
    )


def _aip(tmp_path) -> dict[str, str]:
    # Vertex ends each directory with '/'.
    return {
        "AIP_CHECKPOINT_DIR": f"{tmp_path / 'checkpoints'}/",
        "AIP_MODEL_DIR": f"{tmp_path / 'model'}/",
        "AIP_TENSORBOARD_LOG_DIR": f"{tmp_path / 'logs'}/",
    }


def _assert_servable(model_dir) -> None:
    import tensorflow as tf

    assert (model_dir / "saved_model.pb").is_file(), sorted(os.listdir(model_dir))
    loaded = tf.saved_model.load(str(model_dir))
    assert "serving_default" in loaded.signatures


def test_aip_dirs_take_checkpoints_and_the_saved_model(tfds_data_dir, tmp_path):
    result = _train(tfds_data_dir, _aip(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    note = [line for line in result.stdout.splitlines() if line.startswith("Vertex AI: ")]
    assert len(note) == 1, result.stdout
    assert "AIP_CHECKPOINT_DIR" in note[0] and "AIP_MODEL_DIR" in note[0] and "AIP_TENSORBOARD_LOG_DIR" in note[0]
    checkpoints = tmp_path / "checkpoints"
    assert (checkpoints / "checkpoint").is_file() and list(checkpoints.glob("model.ckpt-2.index"))
    _assert_servable(tmp_path / "model")
    assert "SavedModel copied to" in result.stdout


def test_model_dir_flag_wins_over_aip_checkpoint_dir(tfds_data_dir, tmp_path):
    flag_dir = tmp_path / "flag_dir"
    result = _train(tfds_data_dir, _aip(tmp_path), f"--model_dir={flag_dir}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (flag_dir / "checkpoint").is_file()
    assert not (tmp_path / "checkpoints").exists()
    assert "AIP_CHECKPOINT_DIR" not in result.stdout.split("Vertex AI: ", 1)[1].splitlines()[0]
    _assert_servable(tmp_path / "model")  # AIP_MODEL_DIR has no flag: the copy still lands there


def _scalar_tags(directory) -> set[str]:
    import tensorflow as tf

    tags = set()
    for path in directory.glob("events.out.tfevents.*"):
        tags |= {value.tag for event in tf.compat.v1.train.summary_iterator(str(path)) for value in event.summary.value}
    return tags


@pytest.mark.parametrize(
    "engine_args",
    [("--engine=estimator",), ("--engine=keras",), ("--strategy=tpu", "--engine=tpu_estimator", "--nouse_tpu")],
    ids=["estimator", "keras", "tpu_estimator"],
)
def test_aip_tensorboard_log_dir_receives_training_and_evaluation_events(tfds_data_dir, tmp_path, engine_args):
    result = _train(tfds_data_dir, _aip(tmp_path), *engine_args, "--save_summary_steps=1", "--eval_throttle_secs=0")
    assert result.returncode == 0, result.stderr[-3000:]
    logs = tmp_path / "logs"
    assert "TensorBoard event files copied to" in result.stdout and str(logs) in result.stdout
    # The runs Vertex's TensorBoard lists: training at the root, validation and the test evaluation beside it.
    assert {"loss", "accuracy", "learning_rate", "examples_per_sec"} <= _scalar_tags(logs), sorted(_scalar_tags(logs))
    for run in ("eval", "eval_test"):
        assert {"loss", "accuracy"} <= _scalar_tags(logs / run), (run, sorted(_scalar_tags(logs / run)))
