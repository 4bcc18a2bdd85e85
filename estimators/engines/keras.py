"""--engine=keras: Model.fit / evaluate on the same input_fns, strategy and export as the Estimator.

Checkpoints are tf.train.Checkpoints of the model and optimizer in model_dir
(resumed like the Estimator's), TensorBoard scalars go where and under the tags
the Estimator writes them (model_dir, model_dir/eval; docs/estimators.md), and
the export carries the signatures the Estimator's exporters write.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import math
import os
import time

import numpy as np
import tensorflow as tf

from common.errors import NonFiniteLossError, UsageError
from common.names import EXPORT_DIR, LATEST_EXPORTER
from common.params import TRAIN, VALIDATION
from estimators.distribute import cluster_serve
from estimators.distribute import strategy as distribution
from estimators.engines import InputFn, Job, Result, check_distribution, conversion, export_assembled
from estimators.engines.early_stopping import EarlyStopping
from estimators.engines.hooks import KerasPredictProgress, KerasProgress, Throughput
from estimators.serving.keras_export import export_keras_model
from estimators.training.optimizers import learning_rate_at
from input_fns import pipeline_ops

# tf.estimator.train_and_evaluate's evaluations (EvalSpec's default name) write into model_dir/eval.
EVAL_DIR = "eval"


class KerasEngine:
    name = "keras"

    def check(self, job: Job) -> None:
        if job.build is None:
            raise UsageError("engine", f"'{job.model_name}' is a canned Estimator; train it with --engine=estimator")
        check_distribution(self.name, job.distribution, job.cluster is not None)

    def run(self, job: Job) -> Result:
        cluster = job.cluster
        if distribution.is_keras_server_task(job.distribution.strategy, cluster):
            # ps and worker tasks of Keras parameter_server run the chief's steps until it is done.
            started = time.perf_counter()
            cluster_serve.serve_cluster_task(cluster)
            task = f"{cluster.task_type}:{cluster.task_index}"
            return Result({}, {}, None, None, None, time.perf_counter() - started, task=task)
        chief = cluster is None or cluster.is_chief
        coordinated = job.strategy is not None and job.strategy._should_use_with_coordinator  # noqa: SLF001
        scope = job.strategy.scope() if job.strategy else contextlib.nullcontext()
        chunk = _steps_per_epoch(job, coordinated)
        with scope:
            model = job.build()
            if job.warm_start_from:
                _warm_start(model, job.warm_start_from)
            per_call = steps_per_execution(job, chunk)
            if per_call > 1:
                # Keras's private setter: what compile(steps_per_execution=) sets, without compiling again.
                model._configure_steps_per_execution(per_call)  # noqa: SLF001
        # Evaluation, prediction and export run on a copy of the model outside the strategy: a
        # distributed evaluate or predict would pad, drop or (with a replica left without
        # examples) fail on the last partial batch, and the report needs one row per example.
        local = model if job.strategy is None else job.build()
        checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer)
        manager = tf.train.CheckpointManager(checkpoint, job.model_dir, max_to_keep=job.checkpoints.keep_checkpoint_max)
        _restore(checkpoint, manager, job)
        # Every multi-worker task saves (the save may be collective); only the chief into model_dir.
        scratch = None if chief else os.path.join(job.model_dir, f"tmp_{cluster.task_type}_{cluster.task_index}")
        saver = manager if scratch is None else tf.train.CheckpointManager(checkpoint, scratch, max_to_keep=1)

        train_fn = job.input_fn(TRAIN, pipeline_ops.FIT)
        # ParameterServerStrategy: Model.fit makes the ClusterCoordinator and a dataset on every worker.
        train_data = (
            tf.keras.utils.experimental.DatasetCreator(train_fn) if coordinated else _dataset(train_fn, job.strategy)
        )
        validate = _Validate(local, job.input_fn(VALIDATION, pipeline_ops.EVALUATE), job.eval_steps)
        start_step = int(model.optimizer.iterations.numpy())
        progress = KerasProgress(job.max_steps, job.batch_size, job.progress_every_steps, job.stream)
        # Only the chief writes summaries, into the run's model_dir (the others train into scratch).
        chief_writes = scratch is None
        writer = tf.summary.create_file_writer(job.model_dir) if chief_writes else tf.summary.create_noop_writer()
        eval_dir = os.path.join(job.model_dir, EVAL_DIR) if chief_writes else None
        callbacks = [validate]  # first: the callbacks after it read its val_ metrics
        if not coordinated:  # batch-level callbacks are not allowed under a ClusterCoordinator
            callbacks += [
                _StopOnNonFiniteLoss(),
                _StopAtStep(job.max_steps),
                progress,
                _TrainSummaries(job, train_data, writer),
            ]
        callbacks += [_EvalSummaries(validate, eval_dir, job.task.metrics), _Save(saver)]
        if job.early_stopping is not None:
            rule = job.early_stopping
            callbacks.append(
                _EarlyStopping(
                    rule,
                    job.max_steps,
                    job.stream,
                    monitor=f"val_{rule.metric}",
                    mode="max" if rule.higher_is_better else "min",
                    patience=max(1, math.ceil(rule.max_steps_without_improvement / chunk)),
                    start_from_epoch=math.ceil(rule.min_steps / chunk),
                )
            )

        started = time.perf_counter()
        if start_step < job.max_steps:
            model.fit(
                train_data,
                steps_per_epoch=chunk,
                epochs=math.ceil(job.max_steps / chunk),
                initial_epoch=start_step // chunk,
                callbacks=callbacks,
                verbose=0,
            )
        else:
            validate.set_model(model)
            validate.on_epoch_end(0, {})
        values = validate.last
        metrics = {name: float(values[name]) for name in job.task.metrics}
        metrics["global_step"] = int(model.optimizer.iterations.numpy())
        if scratch is not None:
            tf.io.gfile.rmtree(scratch)
            task = f"{cluster.task_type}:{cluster.task_index}"
            return Result(metrics, {}, None, None, progress.examples_per_sec, time.perf_counter() - started, task=task)
        export_path = None
        if job.assemble is not None:
            export_path = export_assembled(job, {w.name.split(":")[0]: w.numpy() for w in local.weights})
        elif job.serving is not None:
            export_path = export_keras_model(
                local, os.path.join(job.model_dir, EXPORT_DIR, LATEST_EXPORTER), job.serving
            )
        elapsed = time.perf_counter() - started
        report_metrics, predictions = _evaluate_report(local, job)
        # Where the Estimator's evaluate(name=role) writes the report role's figures: model_dir/eval_<role>.
        _write_scalars(os.path.join(job.model_dir, f"{EVAL_DIR}_{job.inputs.report_role}"), metrics, report_metrics)
        return Result(
            metrics=metrics,
            report_metrics=report_metrics,
            predictions=predictions,
            export_path=export_path,
            examples_per_sec=progress.examples_per_sec if not coordinated else None,
            train_seconds=elapsed,
        )


def steps_per_execution(job: Job, chunk: int) -> int:
    """Steps per call of the train function under --strategy=tpu: TPUEstimator's iterations_per_loop.

    On a TPU every call is a host round trip, so steps run in loops on the device; the
    CPU stand-in (--nouse_tpu) runs the same loops. A divisor of the epoch (``chunk``, the
    steps between checkpoints) and of max_steps: every call stays inside its epoch, so
    checkpoints and validations keep their steps, and training stops at max_steps exactly.
    A logged training loss is then the mean over the call's steps. Other strategies: one step per call.
    """
    if job.distribution.strategy != "tpu":
        return 1
    per_call = min(job.distribution.iterations_per_loop, chunk)
    while chunk % per_call or job.max_steps % per_call:
        per_call -= 1
    return per_call


def _steps_per_epoch(job: Job, coordinated: bool) -> int:
    """Steps between checkpoints (and validations); under a coordinator a divisor of max_steps.

    Without batch-level callbacks nothing can stop a coordinated fit inside an
    epoch, so its epochs must add up to max_steps exactly.
    """
    chunk = max(1, min(job.checkpoints.save_checkpoints_steps, job.max_steps))
    while coordinated and job.max_steps % chunk:
        chunk -= 1
    return chunk


def _evaluate_report(local: tf.keras.Model, job: Job) -> tuple[dict[str, float], np.ndarray]:
    """The task's metrics and every prediction on the report role (on the model outside any strategy)."""
    role = job.inputs.report_role
    values = local.evaluate(job.input_fn(role, pipeline_ops.EVALUATE)(), verbose=0, return_dict=True)
    expected = job.inputs.sizes[role]
    progress = KerasPredictProgress(job.prediction_progress(role), job.batch_size, expected)
    outputs = local.predict(job.input_fn(role, pipeline_ops.PREDICT)(), verbose=0, callbacks=[progress])
    if len(outputs) != expected:
        raise RuntimeError(f"predicted {len(outputs)} rows for the {role} role's {expected} examples")
    if job.task.predicts_value:  # one value per example, as the Estimator predicts it
        outputs = outputs.reshape(-1)
    return {name: float(values[name]) for name in job.task.metrics}, outputs


def _write_scalars(directory: str, metrics: dict[str, float], values: dict[str, float]) -> None:
    """``values`` as scalars at the run's final global step (``metrics["global_step"]``), in ``directory``."""
    writer = tf.summary.create_file_writer(directory)
    with writer.as_default(step=int(metrics["global_step"])):
        for tag, value in values.items():
            tf.summary.scalar(tag, value)
    writer.close()


class _Validate(tf.keras.callbacks.Callback):
    """Fit's validation, on ``local`` (the model outside the strategy) with the trained weights.

    It writes ``val_<metric>`` into the epoch's logs, which the callbacks after
    it (TensorBoard, EarlyStopping) and fit's History read.
    """

    def __init__(self, local: tf.keras.Model, input_fn: InputFn, steps: int | None):
        super().__init__()
        self._local = local
        self._input_fn = input_fn
        self._steps = steps
        self.last: dict[str, float] = {}

    def on_epoch_end(self, epoch, logs=None) -> None:
        if self._local is not self.model:
            self._local.set_weights(self.model.get_weights())
        # fit calls this inside its strategy's scope, and evaluate would run under it; a strategy
        # scope is per thread, so a fresh thread evaluates under none.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            values = pool.submit(
                self._local.evaluate, self._input_fn(), steps=self._steps, verbose=0, return_dict=True
            ).result()
        self.last = {key: float(value) for key, value in values.items()}
        if logs is not None:
            logs.update({f"val_{key}": value for key, value in self.last.items()})


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


class _EarlyStopping(tf.keras.callbacks.EarlyStopping):
    """Keras's EarlyStopping, printing the rule's line when it stops the run."""

    def __init__(self, rule: EarlyStopping, max_steps: int, stream, **kwargs):
        super().__init__(**kwargs)
        self._rule, self._max_steps, self._stream = rule, max_steps, stream

    def on_epoch_end(self, epoch, logs=None) -> None:
        super().on_epoch_end(epoch, logs)
        # Keras sets stopped_epoch (from epoch 1 on) only when this rule stops the run.
        if epoch > 0 and self.stopped_epoch == epoch:
            self._rule.announce(int(self.model.optimizer.iterations.numpy()), self._max_steps, self._stream)


class _StopAtStep(tf.keras.callbacks.Callback):
    """Stop at exactly max_steps (the last epoch may be partial); fit still validates that epoch."""

    def __init__(self, max_steps: int):
        super().__init__()
        self._max_steps = max_steps

    def on_train_batch_end(self, batch, logs=None) -> None:
        if int(self.model.optimizer.iterations.numpy()) >= self._max_steps:
            self.model.stop_training = True


class _Save(tf.keras.callbacks.Callback):
    def __init__(self, manager: tf.train.CheckpointManager):
        super().__init__()
        self._manager = manager

    def on_epoch_end(self, epoch, logs=None) -> None:
        self._manager.save(checkpoint_number=int(self.model.optimizer.iterations.numpy()))


class _TrainSummaries(tf.keras.callbacks.Callback):
    """The Estimator engine's training scalars, same tags, same dir: every save_summary_steps steps.

    ``loss`` and ``accuracy`` are of the batch just trained on, as the
    Estimator's: fit's logs hold means since the epoch began, so the metrics are
    reset before each batch that is recorded (and only then: a reset is a few
    assigns). Steps are counted here, not read from the model per batch (a read
    is a sync, dearer for a mirrored variable). The first batch also writes the
    train graph and one sample image batch.
    """

    def __init__(self, job: Job, train_data, writer):
        super().__init__()
        self._job = job
        self._data = train_data
        self._writer = writer
        self._every = max(1, job.checkpoints.save_summary_steps)
        self._throughput = Throughput(job.batch_size)
        self._graph_written = False

    def on_train_begin(self, logs=None) -> None:
        per_call = self.model._steps_per_execution  # noqa: SLF001
        self._per_call = int(per_call.numpy()) if per_call is not None else 1
        self._step = int(self.model.optimizer.iterations.numpy())
        self._throughput.rate(self._step)
        self._write_images()

    def on_train_batch_begin(self, batch, logs=None) -> None:
        if self._records(self._step + self._per_call):
            self.model.reset_metrics()

    def on_train_batch_end(self, batch, logs=None) -> None:
        self._step += self._per_call
        if not self._graph_written:
            self._write_graph()
        if not self._records(self._step):
            return
        spec, step, logs = self._job.spec, self._step, logs or {}
        rate = self._throughput.rate(step)
        with self._writer.as_default(step=step):
            for tag in self._job.task.metrics:
                if tag in logs:
                    tf.summary.scalar(tag, float(logs[tag]))
            tf.summary.scalar("learning_rate", learning_rate_at(spec.optimizer, spec.learning_rate, step))
            if rate is not None:
                tf.summary.scalar("examples_per_sec", rate)

    def on_train_end(self, logs=None) -> None:
        self._writer.flush()

    def _records(self, step: int) -> bool:
        # With steps_per_execution > 1 a call records when it crosses a multiple of save_summary_steps.
        return step // self._every > (step - self._per_call) // self._every

    def _write_graph(self) -> None:
        self._graph_written = True
        train_fn = getattr(self.model, "train_tf_function", None)
        if hasattr(train_fn, "function_spec"):  # as Keras's TensorBoard callback writes it
            with self._writer.as_default():
                tf.summary.graph(train_fn._concrete_variable_creation_fn.graph)  # noqa: SLF001

    def _write_images(self) -> None:
        spec = self._job.spec
        if spec.image is None or self._job.strategy is not None:
            return
        features, _ = next(iter(self._data))
        if spec.input_name not in features:  # a bottleneck head reads features, not images
            return
        with self._writer.as_default():
            images = conversion.displayable(features[spec.input_name])
            tf.summary.image("sample_images", images, self._step, max_outputs=4)


class _EvalSummaries(tf.keras.callbacks.Callback):
    """Each validation's ``loss`` and the task's metric into model_dir/eval, where the Estimator writes its own."""

    def __init__(self, validate: _Validate, eval_dir: str | None, tags: tuple[str, ...]):
        super().__init__()
        self._validate = validate
        self._tags = tags
        self._eval_dir = eval_dir  # None: a task that is not the chief writes none
        self._writer = None

    def on_epoch_end(self, epoch, logs=None) -> None:
        if self._eval_dir is None:
            return
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self._eval_dir)
        step = int(self.model.optimizer.iterations.numpy())
        with self._writer.as_default(step=step):
            for tag in self._tags:
                if tag in self._validate.last:
                    tf.summary.scalar(tag, self._validate.last[tag])
        self._writer.flush()
