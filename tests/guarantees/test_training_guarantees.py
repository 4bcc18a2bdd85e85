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
from support import run_script, train
from tensorflow.core.protobuf import saved_model_pb2

from common.names import EXPORT_DIR, SERVING_KEY
from estimators.engines import checkpoints

pytestmark = pytest.mark.medium

ENGINES = ["estimator", "keras"]
# The checkpoint files each engine writes: model.ckpt-N (Estimator), ckpt-N (tf.train.CheckpointManager).
PREFIX = {"estimator": "model.ckpt-", "keras": "ckpt-"}


def _train(data_dir: str, model_dir: Path, engine: str, *args: str) -> subprocess.CompletedProcess:
    return train(
        data_dir,
        model_dir,
        f"--engine={engine}",
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


IMPROVING_STEPS = 10


def _eval_metric(eval_dir: Path, tag: str) -> dict[int, float]:
    values = {}
    for path in sorted(eval_dir.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.tag == tag:
                    values[event.step] = value.simple_value
    return values


@pytest.mark.parametrize(
    "engine,metric",
    [("estimator", "accuracy"), ("estimator", "loss"), ("keras", "loss")],
    ids=["estimator-accuracy", "estimator-loss", "keras-loss"],
)
def test_a_metric_that_keeps_improving_in_its_direction_is_not_stopped(engine, metric, tfds_data_dir, tmp_path):
    """Validation accuracy rises and loss falls at this learning rate: the rule must read each in its own
    direction (higher accuracy, lower loss), or it sees no improvement and stops the run early."""
    model_dir = tmp_path / "model"
    result = _ok(
        _train(
            tfds_data_dir,
            model_dir,
            engine,
            f"--train_steps={IMPROVING_STEPS}",
            f"--save_checkpoints_steps={EVERY}",
            f"--early_stopping_steps={EARLY_STOPPING_STEPS}",
            f"--early_stopping_metric={metric}",
            "--learning_rate=0.003",
            "--validation_split=train[:256]",
        )
    )
    assert "early stopping" not in result.stdout, result.stdout
    assert _global_step(result.stdout) == IMPROVING_STEPS
    if engine == "estimator":  # the metric really moved, in its direction, from the first evaluation to the last
        values = _eval_metric(model_dir / "eval", metric)
        first, last = values[min(values)], values[max(values)]
        assert (last > first) if metric == "accuracy" else (last < first), values


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


def test_regression_best_export_holds_the_checkpoint_with_the_lowest_validation_mae(tfds_data_dir, tmp_path):
    """The regression task chooses by the lowest mae: the opposite direction to accuracy."""
    model_dir = tmp_path / "model"
    result = run_script(
        "scripts.train",
        "--dataset=diabetes",
        f"--data_dir={tfds_data_dir}",
        "--task=regression",
        "--model=dnn",
        "--batch_size=32",
        # At 0.3 the validation mae jumps about (seeded: the same every run): the lowest is not the latest.
        "--learning_rate=0.3",
        "--train_steps=20",
        "--save_checkpoints_steps=2",
        "--keep_checkpoint_max=20",
        "--eval_throttle_secs=0",
        "--novalidate_data",
        "--noreport",
        f"--model_dir={model_dir}",
    )
    _ok(result)
    maes = _eval_metric(model_dir / "eval", "mae")
    assert sorted(maes) == list(range(2, 21, 2)), maes
    best_step = min(maes, key=lambda step: (maes[step], step))
    assert best_step != max(maes), f"{maes}: the best must not be the latest, or the test proves nothing"
    assert best_step != max(maes, key=maes.get), maes

    (best,) = (model_dir / EXPORT_DIR / "best").iterdir()
    exported = tf.train.load_checkpoint(str(best / "variables" / "variables"))
    assert int(exported.get_tensor("global_step")) == best_step, maes


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
    result = _ok(_train(tfds_data_dir, model_dir, engine, "--train_steps=2", "--mixed_precision"))
    (export,) = (model_dir / EXPORT_DIR / "serving").iterdir()
    # No GPU here: the documented policy is mixed_bfloat16 (the softmax stays float32).
    assert "bfloat16" in _compute_dtypes(export) and "float16" not in _compute_dtypes(export)
    precision = _summary_line(result.stdout, "precision")
    assert precision.split(None, 1)[1] == "mixed_bfloat16 (--mixed_precision)", precision
    serve = tf.saved_model.load(str(export)).signatures[SERVING_KEY]
    png = tf.io.encode_png(tf.fill([8, 8, 1], tf.constant(128, tf.uint8))).numpy()
    probabilities = serve(image_bytes=tf.constant([png, png]))["probabilities"]
    assert probabilities.dtype == tf.float32 and probabilities.shape == (2, 10)
    np.testing.assert_allclose(tf.reduce_sum(probabilities, axis=1).numpy(), 1.0, rtol=1e-5)


def test_mixed_precision_on_two_replicas_is_refused_by_the_estimator_and_runs_under_keras(tfds_data_dir, tmp_path):
    """model_to_estimator's per-replica clones cannot update mirrored variables under a mixed policy."""
    model_dir = tmp_path / "model"
    args = (
        "--train_steps=2",
        "--synthetic_data",
        "--strategy=mirrored",
        "--logical_cpu_devices=2",
        "--mixed_precision",
    )
    refused = _train(tfds_data_dir, model_dir, "estimator", *args)
    assert refused.returncode == 2, f"exit {refused.returncode}\n{refused.stderr[-3000:]}"
    assert refused.stderr.strip().splitlines() == [
        "error: --mixed_precision: not with --engine=estimator on 2 replicas of one process (--strategy=mirrored); "
        "use --engine=keras, or one replica per process"
    ], refused.stderr[-3000:]
    assert not model_dir.exists()
    result = _ok(_train(tfds_data_dir, model_dir, "keras", *args))
    assert _summary_line(result.stdout, "precision").split(None, 1)[1] == "mixed_bfloat16 (--mixed_precision)"
    assert _summary_line(result.stdout, "strategy").endswith("2 replicas in sync")


# --- what the summary says ran -----------------------------------------------------------------------


def _summary_line(stdout: str, name: str) -> str:
    (line,) = [line for line in stdout.splitlines() if re.match(rf"{name}\s{{2,}}", line)]
    return line


@pytest.mark.parametrize("engine", ENGINES)
def test_the_summary_names_the_real_data_the_strategy_and_the_precision(engine, stalled):
    _, result = stalled[engine]
    assert "SYNTHETIC" not in result.stdout
    assert _summary_line(result.stdout, "data").split(None, 1)[1] == "tfds digits"
    assert _summary_line(result.stdout, "strategy").endswith(", 1 replica in sync")
    assert _summary_line(result.stdout, "precision").split(None, 1)[1] == "float32"


def test_synthetic_data_is_named_beside_the_test_accuracy_and_in_the_report(tfds_data_dir, tmp_path):
    model_dir = tmp_path / "model"
    args = ("--train_steps=2", "--synthetic_data", "--strategy=mirrored", "--logical_cpu_devices=2", "--report")
    result = _ok(_train(tfds_data_dir, model_dir, "estimator", *args))
    accuracy = _summary_line(result.stdout, "test accuracy")
    assert "SYNTHETIC data: random inputs, not tfds digits" in accuracy, accuracy
    assert "SYNTHETIC (--synthetic_data)" in _summary_line(result.stdout, "data")
    assert _summary_line(result.stdout, "strategy").endswith("mirrored: MirroredStrategy, 2 replicas in sync")
    page = (model_dir / "report" / "report.html").read_text()
    assert "SYNTHETIC random data" in page


def test_synthetic_data_reports_exactly_the_role_examples_under_keras_mirrored(tfds_data_dir, tmp_path):
    """32 test examples, fewer than the global batch of 64 over two replicas: 32 predictions, none padded."""
    model_dir = tmp_path / "model"
    args = ("--train_steps=2", "--synthetic_data", "--strategy=mirrored", "--logical_cpu_devices=2", "--report")
    result = _ok(_train(tfds_data_dir, model_dir, "keras", *args))
    assert "(on test[:32])" in _summary_line(result.stdout, "test accuracy")
    assert "over 32 examples" in (model_dir / "report" / "report.html").read_text()
