"""--engine=keras: Model.fit / evaluate on the same input_fns, strategy and export as the Estimator.

Checkpoints are tf.train.Checkpoints of the model and optimizer in model_dir
(resumed like the Estimator's), TensorBoard logs go to model_dir/logs, and
the export carries the signatures the Estimator's exporters write.
"""

from __future__ import annotations

import contextlib
import math
import os
import time

import numpy as np
import tensorflow as tf

from common.errors import NonFiniteLossError, UsageError
from common.names import EXPORT_DIR, LATEST_EXPORTER
from common.params import TRAIN, VALIDATION
from estimators import conversion
from estimators.engines import InputFn, Job, Result, export_assembled
from estimators.hooks import KerasProgress
from estimators.optimizers import learning_rate_at
from estimators.serving.keras_export import export_keras_model
from input_fns import pipeline_ops


class KerasEngine:
    name = "keras"

    def check(self, job: Job) -> None:
        if job.build is None:
            raise UsageError("engine", f"'{job.model_name}' is a canned Estimator; train it with --engine=estimator")
        if job.distribution.strategy == "tpu":
            raise UsageError("strategy", "tpu trains with --engine=tpu_estimator here")

    def run(self, job: Job) -> Result:
        scope = job.strategy.scope() if job.strategy else contextlib.nullcontext()
        with scope:
            model = job.build()
            if job.warm_start_from:
                _warm_start(model, job.warm_start_from)
        checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer)
        manager = tf.train.CheckpointManager(checkpoint, job.model_dir, max_to_keep=job.checkpoints.keep_checkpoint_max)
        _restore(checkpoint, manager, job)

        train_data = _dataset(job.input_fn(TRAIN, pipeline_ops.TRAIN), job.strategy)
        eval_data = _dataset(job.input_fn(VALIDATION, pipeline_ops.EVAL), job.strategy)
        # A distributed dataset has no length Keras can see: evaluation is told how many batches.
        eval_steps = job.eval_steps or (job.steps_for(VALIDATION) if job.strategy else None)
        start_step = int(model.optimizer.iterations.numpy())
        chunk = max(1, min(job.checkpoints.save_checkpoints_steps, job.max_steps))
        progress = KerasProgress(job.max_steps, job.batch_size, job.progress_every_steps, job.stream)
        callbacks = [
            _StopOnNonFiniteLoss(),
            _StopAtStep(job.max_steps),
            progress,
            _TensorBoard(os.path.join(job.model_dir, "logs"), update_freq=job.checkpoints.save_summary_steps),
            _LearningRateAndImages(job, train_data),
            _Save(manager),
        ]
        if job.early_stopping is not None:
            rule = job.early_stopping
            callbacks.append(
                tf.keras.callbacks.EarlyStopping(
                    monitor=f"val_{rule.metric}",
                    mode="max" if rule.higher_is_better else "min",
                    patience=max(1, math.ceil(rule.max_steps_without_improvement / chunk)),
                    start_from_epoch=math.ceil(rule.min_steps / chunk),
                )
            )

        started = time.perf_counter()
        history = None
        if start_step < job.max_steps:
            history = model.fit(
                train_data,
                steps_per_epoch=chunk,
                epochs=math.ceil(job.max_steps / chunk),
                initial_epoch=start_step // chunk,
                validation_data=eval_data,
                validation_steps=eval_steps,
                callbacks=callbacks,
                verbose=0,
            )
        logs = history.history if history is not None else {}
        if logs.get("val_accuracy"):
            # fit validated the final weights at the end of its last epoch.
            values = {"accuracy": logs["val_accuracy"][-1], "loss": logs["val_loss"][-1]}
        else:
            values = model.evaluate(eval_data, steps=eval_steps, verbose=0, return_dict=True)
        metrics = {
            "accuracy": float(values["accuracy"]),
            "loss": float(values["loss"]),
            "global_step": int(model.optimizer.iterations.numpy()),
        }
        export_path = None
        if job.assemble is not None:
            export_path = export_assembled(job, {w.name.split(":")[0]: w.numpy() for w in model.weights})
        elif job.serving is not None:
            export_path = export_keras_model(
                model, os.path.join(job.model_dir, EXPORT_DIR, LATEST_EXPORTER), job.serving
            )
        elapsed = time.perf_counter() - started
        report_metrics, probabilities = _evaluate_report(model, job)
        return Result(
            metrics=metrics,
            report_metrics=report_metrics,
            probabilities=probabilities,
            export_path=export_path,
            examples_per_sec=progress.examples_per_sec,
            train_seconds=elapsed,
        )


def _evaluate_report(model: tf.keras.Model, job: Job) -> tuple[dict[str, float], np.ndarray]:
    """Accuracy, loss and every prediction on the report role."""
    role = job.inputs.report_role
    steps = job.steps_for(role) if job.strategy else None
    values = model.evaluate(
        _dataset(job.input_fn(role, pipeline_ops.EVAL), job.strategy), steps=steps, verbose=0, return_dict=True
    )
    probabilities = model.predict(
        _dataset(job.input_fn(role, pipeline_ops.PREDICT), job.strategy), steps=steps, verbose=0
    )
    return {"accuracy": float(values["accuracy"]), "loss": float(values["loss"])}, probabilities


def _dataset(input_fn: InputFn, strategy: tf.distribute.Strategy | None):
    if strategy is None:
        return input_fn()
    # Each replica's pipeline gets its InputContext: the same per-replica batch
    # and sharding the Estimator gives the same input_fn.
    return strategy.distribute_datasets_from_function(input_fn)


def _restore(checkpoint: tf.train.Checkpoint, manager: tf.train.CheckpointManager, job: Job) -> None:
    path = manager.latest_checkpoint
    if path is None:
        if tf.train.latest_checkpoint(job.model_dir):
            raise UsageError(
                "model_dir",
                f"'{job.model_dir}' holds a checkpoint written by --engine=estimator; "
                "use another --model_dir or pass --overwrite_model_dir",
            )
        return
    stored = dict(tf.train.list_variables(path))
    if not any(".ATTRIBUTES" in key for key in stored):
        raise UsageError(
            "model_dir",
            f"'{job.model_dir}' holds a checkpoint written by --engine=estimator; "
            "use another --model_dir or pass --overwrite_model_dir",
        )
    try:
        checkpoint.restore(path).assert_existing_objects_matched()
    except (ValueError, AssertionError, tf.errors.OpError) as err:
        first_line = str(err).strip().splitlines()[0]
        raise UsageError(
            "model_dir",
            f"'{job.model_dir}' holds a checkpoint of a different architecture than '{job.model_name}' "
            f"({first_line}); use another --model_dir or pass --overwrite_model_dir",
        ) from None


def _warm_start(model: tf.keras.Model, model_dir: str) -> None:
    """Initialise ``model``'s weights from a Keras-engine checkpoint of the same architecture (stage 1)."""
    path = tf.train.latest_checkpoint(model_dir)
    if path is None:
        raise UsageError("model_dir", f"nothing to warm-start from: no checkpoint in '{model_dir}'")
    tf.train.Checkpoint(model=model).restore(path).expect_partial()


class _StopOnNonFiniteLoss(tf.keras.callbacks.Callback):
    """Raise at the first NaN/Inf loss, before a checkpoint or export can hold broken weights.

    (Keras's TerminateOnNaN only stops fit, after which the run would export.)
    """

    def on_train_batch_end(self, batch, logs=None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise NonFiniteLossError(int(self.model.optimizer.iterations.numpy()))


class _StopAtStep(tf.keras.callbacks.Callback):
    """Stop at exactly max_steps (the last epoch may be partial); fit still validates that epoch."""

    def __init__(self, max_steps: int):
        super().__init__()
        self._max_steps = max_steps

    def on_train_batch_end(self, batch, logs=None) -> None:
        if int(self.model.optimizer.iterations.numpy()) >= self._max_steps:
            self.model.stop_training = True


class _TensorBoard(tf.keras.callbacks.TensorBoard):
    """Keras's TensorBoard callback, building its batch summaries only on the steps that record them.

    Keras's own calls tf.summary.scalar eagerly for every log after every batch and
    lets record_if drop all but each update_freq-th step: about a fifth of Model.fit's
    time on a small model (benchmarks/training_throughput.py, py-spy). The same
    summaries are written; the first batch still writes the graph. The step is counted
    here rather than read from the model's train counter (a read per batch is a sync,
    dearer still for a mirrored variable); fit resets that counter to 0 before on_train_begin.
    """

    def on_train_begin(self, logs=None) -> None:
        super().on_train_begin(logs)
        per_call = self.model._steps_per_execution
        self._steps_per_call = int(per_call.numpy()) if per_call is not None else 1
        self._steps = 0

    def on_train_batch_end(self, batch, logs=None) -> None:
        self._steps += self._steps_per_call
        always = self._should_write_train_graph or self._should_trace or self.update_freq == "epoch"
        if always or self._steps % self.update_freq == 0:
            super().on_train_batch_end(batch, logs)


class _Save(tf.keras.callbacks.Callback):
    def __init__(self, manager: tf.train.CheckpointManager):
        super().__init__()
        self._manager = manager

    def on_epoch_end(self, epoch, logs=None) -> None:
        self._manager.save(checkpoint_number=int(self.model.optimizer.iterations.numpy()))


class _LearningRateAndImages(tf.keras.callbacks.Callback):
    """The Estimator engine's extra summaries: learning rate every summary step, one sample image batch."""

    def __init__(self, job: Job, train_data):
        super().__init__()
        self._job = job
        self._data = train_data
        self._writer = tf.summary.create_file_writer(os.path.join(job.model_dir, "logs", "train"))

    def on_train_begin(self, logs=None) -> None:
        spec = self._job.spec
        if spec.image is None or self._job.strategy is not None:
            return
        features, _ = next(iter(self._data))
        if spec.input_name not in features:  # a bottleneck head reads features, not images
            return
        step = int(self.model.optimizer.iterations.numpy())
        with self._writer.as_default():
            tf.summary.image("sample_images", conversion.displayable(features[spec.input_name]), step, max_outputs=4)

    def on_train_batch_end(self, batch, logs=None) -> None:
        step = int(self.model.optimizer.iterations.numpy())
        if step % self._job.checkpoints.save_summary_steps:
            return
        spec = self._job.spec
        with self._writer.as_default():
            tf.summary.scalar("learning_rate", learning_rate_at(spec.optimizer, spec.learning_rate, step), step)

    def on_train_end(self, logs=None) -> None:
        self._writer.flush()
