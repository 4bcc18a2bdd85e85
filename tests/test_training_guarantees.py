"""Training guarantees, each through ``python -m scripts.train`` on the prepared digits dataset.

A truncated newest checkpoint is set aside and the rerun resumes from the one before; the Keras
engine resumes from its saved step; early stopping ends a run whose validation metric stops
improving and says so; ``--keep_checkpoint_max`` keeps only the newest checkpoints; export/best
holds the checkpoint with the best validation accuracy; ``--mixed_precision`` computes in
bfloat16 (on CPU) and serves float32 probabilities.

Runs are tens of steps on 32 validation and 32 test examples; a run that several tests read is a
module-scoped fixture.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from conftest import run_script
from tensorflow.core.protobuf import saved_model_pb2

from common.names import EXPORT_DIR, SERVING_KEY
from estimators import checkpoints

ENGINES = ["estimator", "keras"]
# The checkpoint files each engine writes: model.ckpt-N (Estimator), ckpt-N (tf.train.CheckpointManager).
PREFIX = {"estimator": "model.ckpt-", "keras": "ckpt-"}


def _train(data_dir: str, model_dir: Path, engine: str, *args: str) -> subprocess.CompletedProcess:
    return run_script(
        "scripts.train",
        f"--engine={engine}",
        f"--data_dir={data_dir}",
        f"--model_dir={model_dir}",
        "--novalidate_data",
        "--noreport",
        "--eval_throttle_secs=0",
        "--progress_every_steps=1",
        "--validation_split=train[:32]",
        "--test_split=test[:32]",
        *args,
    )


def _ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stderr[-3000:]}"
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return result


def _global_step(stdout: str) -> int:
    """The ``global step`` figure of the run summary."""
    return int(re.search(r"^global step\s+(\d+)", stdout, re.M).group(1))


def _progress_steps(stdout: str) -> list[int]:
    """The steps of the ``step N/M ...`` progress lines (each run's first step prints none)."""
    return [int(m) for m in re.findall(r"^step (\d+)/", stdout, re.M)]


def _checkpoint_steps(model_dir: Path, engine: str) -> list[int]:
    names = (p.name for p in model_dir.glob(PREFIX[engine] + "*.index"))
    return sorted(int(name[len(PREFIX[engine]) : -len(".index")]) for name in names)


# --- resume ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def four_steps(tfds_data_dir, tmp_path_factory) -> dict[str, Path]:
    """Per engine, a model_dir trained to step 4 with a checkpoint every 2 steps (all kept)."""
    runs = {}
    for engine in ENGINES:
        model_dir = tmp_path_factory.mktemp(f"four_steps_{engine}") / "model"
        _ok(_train(tfds_data_dir, model_dir, engine, "--train_steps=4", "--save_checkpoints_steps=2"))
        assert _checkpoint_steps(model_dir, engine)[-2:] == [2, 4]
        runs[engine] = model_dir
    return runs


def _copy(model_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(model_dir, target)
    # The Estimator's checkpoint state file names checkpoints by absolute path: point it at the copy.
    state = target / "checkpoint"
    state.write_text(state.read_text().replace(str(model_dir), str(target)))
    return target


def _truncate(prefix: Path) -> None:
    for path in prefix.parent.glob(prefix.name + ".data-*"):
        with open(path, "r+b") as f:
            f.truncate(path.stat().st_size // 3)


@pytest.mark.parametrize("engine", ENGINES)
def test_rerun_after_a_truncated_newest_checkpoint_resumes_from_the_previous_one(
    engine, four_steps, tfds_data_dir, tmp_path
):
    model_dir = _copy(four_steps[engine], tmp_path)
    newest, previous = f"{PREFIX[engine]}4", f"{PREFIX[engine]}2"
    _truncate(model_dir / newest)
    assert not checkpoints.is_readable(str(model_dir / newest))

    rerun = _ok(_train(tfds_data_dir, model_dir, engine, "--train_steps=6", "--save_checkpoints_steps=2"))
    warnings = [line for line in rerun.stderr.splitlines() if line.startswith("warning: checkpoint")]
    assert len(warnings) == 1, rerun.stderr[-3000:]
    assert f"checkpoint {newest} in {model_dir} is unreadable" in warnings[0]
    assert warnings[0].endswith(f"resuming from {previous}"), warnings[0]
    # Steps 3..6 ran (not 5..6 from the torn step-4 checkpoint, not 1..6 from zero).
    assert _progress_steps(rerun.stdout) == [4, 5, 6], rerun.stdout
    assert _global_step(rerun.stdout) == 6
    # The bad checkpoint is kept aside, not deleted.
    assert any(name.startswith(newest + ".") for name in os.listdir(model_dir / checkpoints.QUARANTINE_DIR))


def test_keras_engine_rerun_resumes_from_the_saved_step(four_steps, tfds_data_dir, tmp_path):
    model_dir = _copy(four_steps["keras"], tmp_path)
    rerun = _ok(_train(tfds_data_dir, model_dir, "keras", "--train_steps=8", "--save_checkpoints_steps=2"))
    # Steps 5..8 ran (progress prints from a run's second step on), not 1..8.
    assert _progress_steps(rerun.stdout) == [6, 7, 8], rerun.stdout
    assert _global_step(rerun.stdout) == 8
    assert _checkpoint_steps(model_dir, "keras") == [2, 4, 6, 8]


# --- early stopping and --keep_checkpoint_max --------------------------------------------------------

EARLY_STOPPING_STEPS = 4
EVERY = 2  # checkpoints, evaluations and early-stopping checks


@pytest.fixture(scope="module")
def stalled(tfds_data_dir, tmp_path_factory) -> dict[str, tuple[Path, subprocess.CompletedProcess]]:
    """Per engine, a 40-step run whose validation accuracy cannot improve (a learning rate of 1e-30
    leaves the weights as they are): early stopping must end it; two checkpoints kept."""
    runs = {}
    for engine in ENGINES:
        model_dir = tmp_path_factory.mktemp(f"stalled_{engine}") / "model"
        result = _train(
            tfds_data_dir,
            model_dir,
            engine,
            "--train_steps=40",
            f"--save_checkpoints_steps={EVERY}",
            f"--early_stopping_steps={EARLY_STOPPING_STEPS}",
            "--learning_rate=1e-30",
            "--keep_checkpoint_max=2",
        )
        runs[engine] = (model_dir, _ok(result))
    return runs


@pytest.mark.parametrize("engine", ENGINES)
def test_early_stopping_ends_a_run_that_stops_improving_and_says_so(engine, stalled):
    _, result = stalled[engine]
    stopped = _global_step(result.stdout)
    # The first evaluation (step 2) is the best there will be; 4 steps later the rule stops the run
    # (the Estimator's hook sees each step's count before it runs: one step more).
    assert EVERY + EARLY_STOPPING_STEPS <= stopped <= EVERY + EARLY_STOPPING_STEPS + 1, result.stdout
    lines = [line for line in result.stdout.splitlines() if line.startswith("early stopping")]
    assert lines == [
        f"early stopping at step {stopped}: validation accuracy has not improved for {EARLY_STOPPING_STEPS} steps"
    ], result.stdout
    assert (stalled[engine][0] / EXPORT_DIR).is_dir()


@pytest.mark.parametrize("engine", ENGINES)
def test_keep_checkpoint_max_keeps_only_the_newest(engine, stalled):
    model_dir, result = stalled[engine]
    stopped = _global_step(result.stdout)
    saved = [*range(EVERY, stopped + 1, EVERY), stopped]  # every EVERY steps, and the last step
    assert len(set(saved)) > 2  # more were written than are kept
    assert _checkpoint_steps(model_dir, engine) == sorted(set(saved))[-2:]


# --- the best export ---------------------------------------------------------------------------------


def _eval_accuracies(eval_dir: Path) -> dict[int, float]:
    values = {}
    for path in sorted(eval_dir.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.tag == "accuracy":
                    values[event.step] = value.simple_value
    return values


def test_best_export_holds_the_checkpoint_with_the_best_validation_accuracy(tfds_data_dir, tmp_path):
    model_dir = tmp_path / "model"
    # At a learning rate of 0.1 validation accuracy rises, then falls back (seeded: the same every run).
    args = ("--train_steps=20", "--save_checkpoints_steps=2", "--keep_checkpoint_max=20", "--learning_rate=0.1")
    _ok(_train(tfds_data_dir, model_dir, "estimator", *args))
    accuracies = _eval_accuracies(model_dir / "eval")
    assert sorted(accuracies) == list(range(2, 21, 2))
    best_step = max(accuracies, key=lambda step: (accuracies[step], -step))  # the first best (strictly better)
    assert best_step != max(accuracies), f"{accuracies}: the best must not be the latest, or the test proves nothing"

    (best,) = (model_dir / EXPORT_DIR / "best").iterdir()
    exported = tf.train.load_checkpoint(str(best / "variables" / "variables"))
    assert int(exported.get_tensor("global_step")) == best_step
    # Its weights are that checkpoint's.
    at_best = tf.train.load_checkpoint(str(model_dir / f"model.ckpt-{best_step}"))
    for name in exported.get_variable_to_shape_map():
        np.testing.assert_array_equal(exported.get_tensor(name), at_best.get_tensor(name), err_msg=name)


# --- mixed precision ---------------------------------------------------------------------------------


def _compute_dtypes(saved_model_dir: Path) -> set[str]:
    """The ``T`` dtypes of the saved graph's Conv2D and MatMul ops, function bodies included."""
    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((saved_model_dir / "saved_model.pb").read_bytes())
    graph = saved.meta_graphs[0].graph_def
    nodes = [*graph.node, *(n for f in graph.library.function for n in f.node_def)]
    return {tf.dtypes.as_dtype(n.attr["T"].type).name for n in nodes if n.op in ("Conv2D", "MatMul")}


@pytest.mark.parametrize("engine", ENGINES)
def test_mixed_precision_computes_in_bfloat16_and_serves_float32(engine, tfds_data_dir, tmp_path):
    model_dir = tmp_path / "model"
    _ok(_train(tfds_data_dir, model_dir, engine, "--train_steps=2", "--mixed_precision"))
    (export,) = (model_dir / EXPORT_DIR / "serving").iterdir()
    # No GPU here: the documented policy is mixed_bfloat16 (the softmax stays float32).
    assert "bfloat16" in _compute_dtypes(export) and "float16" not in _compute_dtypes(export)
    serve = tf.saved_model.load(str(export)).signatures[SERVING_KEY]
    png = tf.io.encode_png(tf.fill([8, 8, 1], tf.constant(128, tf.uint8))).numpy()
    probabilities = serve(image_bytes=tf.constant([png, png]))["probabilities"]
    assert probabilities.dtype == tf.float32 and probabilities.shape == (2, 10)
    np.testing.assert_allclose(tf.reduce_sum(probabilities, axis=1).numpy(), 1.0, rtol=1e-5)
