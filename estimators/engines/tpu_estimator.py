"""The Estimator engine on TPU: a TPUEstimator over a hand-written model_fn around a Keras model.

model_to_estimator does not accept TPUStrategy, so on TPU the Keras model is
built inside a model_fn (one fresh model per graph) and trained with a v1
optimizer, wrapped in CrossShardOptimizer so gradients are averaged over the
TPU cores. With ``use_tpu=False`` the same model_fn runs on the CPU: that is
how it is tested without a TPU, and a quick check before paying for one.

Batch sizes: ``train_batch_size``/``eval_batch_size`` are global; TPUEstimator
hands each input pipeline ``params["batch_size"]``, the per-core batch on TPU
(global / num_shards) and the whole batch on CPU.

Exports are CPU SavedModels (``export_to_tpu=False``) with the same serving
signature as the other engines: encoded image bytes in, probabilities,
class ids and class names out.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import tensorflow as tf

from common import tasks
from common.errors import UsageError
from common.names import EXPORT_DIR, LABELS_FILE, LATEST_EXPORTER, SERVING_KEY, as_str
from common.params import TRAIN as TRAIN_ROLE
from common.params import VALIDATION, CheckpointPolicy
from common.progress import counted
from estimators.distribute import strategy as distribution
from estimators.engines import Inputs, Job, Result, check_distribution, conversion
from estimators.engines.hooks import ExamplesPerSecHook, ProgressHook
from estimators.serving import receivers as serving
from estimators.training.optimizers import OptimizerSpec, learning_rate_at
from input_fns.pipeline_ops import EVALUATE, FIT, PREDICT
from input_fns.preprocessing import ImageSpec

ModelBuilder = Callable[[], tf.keras.Model]
DEFAULT_OPTIMIZER = OptimizerSpec()


@dataclasses.dataclass(frozen=True)
class TpuSettings:
    """Where and how a TPUEstimator runs."""

    use_tpu: bool = True
    tpu: str | None = None  # name, grpc://host:port, or "local" on a TPU VM
    tpu_zone: str | None = None
    gcp_project: str | None = None
    # Steps run on the TPU per session.run: hooks, checkpoints and summaries
    # see the host only at loop boundaries.
    iterations_per_loop: int = 100
    num_shards: int | None = None  # TPU cores to replicate over; None: all of them


def settings_from(options) -> TpuSettings:
    """TpuSettings from a DistributionParams (common.params)."""
    return TpuSettings(**{f.name: getattr(options, f.name) for f in dataclasses.fields(TpuSettings)})


@dataclasses.dataclass(frozen=True)
class TpuResult:
    metrics: Mapping[str, float]
    export_path: str


def v1_optimizer(spec: OptimizerSpec, learning_rate: float) -> tf.compat.v1.train.Optimizer:
    """The v1 optimizer a TPU model_fn minimises with, on the same schedule as the other engines."""
    rate = learning_rate_at(spec, learning_rate, tf.compat.v1.train.get_or_create_global_step())
    v1 = tf.compat.v1.train
    if spec.name == "adam":
        return v1.AdamOptimizer(rate)
    if spec.name == "sgd":
        return v1.MomentumOptimizer(rate, spec.momentum)
    if spec.name == "rmsprop":
        return v1.RMSPropOptimizer(rate, momentum=spec.momentum)
    return v1.AdagradOptimizer(rate)


def make_model_fn(
    build: ModelBuilder,
    input_name: str,
    class_names: Sequence[str],
    learning_rate: float,
    use_tpu: bool,
    optimizer_spec: OptimizerSpec = DEFAULT_OPTIMIZER,
    summaries: tuple[str, int] | None = None,
) -> Callable:
    """A TPUEstimator model_fn that builds the Keras model from ``build`` in each graph.

    ``summaries`` is (model_dir, save_summary_steps): where the training scalars go, and how often.
    """
    names = list(class_names)

    def model_fn(features, labels, mode, params):
        del params  # the batch size is in the input pipeline's shapes
        images = features[input_name] if isinstance(features, dict) else features
        model = build()
        probabilities = model(images, training=mode == FIT)

        if mode == PREDICT:
            class_ids = tf.argmax(probabilities, axis=-1)
            predictions = {
                "probabilities": probabilities,
                "class_ids": class_ids,
                "class_names": tf.gather(tf.constant(names), class_ids),
            }
            return tf.compat.v1.estimator.tpu.TPUEstimatorSpec(
                mode,
                predictions=predictions,
                export_outputs={SERVING_KEY: tf.estimator.export.PredictOutput(predictions)},
            )

        # The builder's compiled loss (label smoothing included) when it is a Loss object.
        loss_fn = model.loss if isinstance(model.loss, tf.keras.losses.Loss) else _sparse_crossentropy
        loss = tf.reduce_mean(loss_fn(labels, probabilities))
        if model.losses:  # weight decay and other regularisers of the Keras layers
            loss += tf.add_n(model.losses)

        if mode == EVALUATE:
            return tf.compat.v1.estimator.tpu.TPUEstimatorSpec(
                mode, loss=loss, eval_metrics=(_metric_fn, [labels, probabilities])
            )

        optimizer = v1_optimizer(optimizer_spec, learning_rate)
        if use_tpu:
            # Averages the gradients of every core before the update.
            optimizer = tf.compat.v1.tpu.CrossShardOptimizer(optimizer)
        # Batch-norm moving averages are Keras updates, not v1 UPDATE_OPS.
        with tf.control_dependencies(model.updates):
            train_op = optimizer.minimize(
                loss, global_step=tf.compat.v1.train.get_global_step(), var_list=model.trainable_variables
            )
        host_call = _train_host_call(summaries, loss, labels, probabilities, optimizer_spec, learning_rate)
        scaffold_fn = _no_v1_summaries if host_call is not None else None
        return tf.compat.v1.estimator.tpu.TPUEstimatorSpec(
            mode, loss=loss, train_op=train_op, host_call=host_call, scaffold_fn=scaffold_fn
        )

    return model_fn


def _train_host_call(summaries, loss, labels, probabilities, optimizer_spec, learning_rate):
    """The other engines' training scalars (``loss``, ``accuracy``, ``learning_rate``), written on the host.

    On a TPU, summaries made in the model_fn are dropped: a host_call is how
    TPUEstimator writes them, from tensors outfed every step. They are recorded
    every ``save_summary_steps`` steps (and at the first), at the step just
    trained, as the Estimator's summary hook records its own.
    """
    if summaries is None:
        return None
    model_dir, every = summaries
    done = tf.compat.v1.train.get_global_step() + 1  # the step this train_op completes
    hits = tf.equal(tf.argmax(probabilities, axis=-1), tf.cast(tf.reshape(labels, [-1]), tf.int64))
    accuracy = tf.reduce_mean(tf.cast(hits, tf.float32))
    rate = learning_rate_at(optimizer_spec, learning_rate, done)

    def host_call(step, loss, accuracy, rate):
        step = step[0]
        record = tf.logical_or(tf.equal(step % every, 0), tf.equal(step, 1))
        writer = tf.compat.v2.summary.create_file_writer(model_dir)
        with writer.as_default(), tf.compat.v2.summary.record_if(record):
            for name, value in (("loss", loss), ("accuracy", accuracy), ("learning_rate", rate)):
                tf.compat.v2.summary.scalar(name, tf.reduce_mean(value), step=step)
            return tf.compat.v1.summary.all_v2_summary_ops()

    return host_call, [
        tf.reshape(tf.cast(x, dtype), [1])
        for x, dtype in ((done, tf.int64), (loss, tf.float32), (accuracy, tf.float32), (rate, tf.float32))
    ]


def _no_v1_summaries() -> tf.compat.v1.train.Scaffold:
    """A training Scaffold whose summary op writes nothing: the host_call writes every training scalar.

    Without it the Estimator adds a v1 ``loss`` summary of its own, which the Keras model's
    graph-mode ``loss/...`` ops push to the tag ``loss_1`` (``loss_2`` beside the host_call's).
    """
    return tf.compat.v1.train.Scaffold(summary_op=tf.constant(b"", name="no_v1_summaries"))


def _sparse_crossentropy(labels: tf.Tensor, probabilities: tf.Tensor) -> tf.Tensor:
    return tf.keras.losses.sparse_categorical_crossentropy(labels, probabilities)


def _metric_fn(labels: tf.Tensor, probabilities: tf.Tensor) -> dict:
    """Runs on the host, over the outfed tensors of every core."""
    predictions = tf.argmax(probabilities, axis=-1)
    return {"accuracy": tf.compat.v1.metrics.accuracy(labels=labels, predictions=predictions)}


def make_run_config(
    model_dir: str, policy: CheckpointPolicy, settings: TpuSettings, seed: int | None = None
) -> tf.compat.v1.estimator.tpu.RunConfig:
    resolver = (
        distribution.tpu_cluster_resolver(settings.tpu, settings.tpu_zone, settings.gcp_project)
        if settings.use_tpu
        else None
    )
    args = conversion.run_config_args(model_dir, policy, seed)
    # TPUEstimator turns log_step_count_steps into its own ExamplesPerSecondHook, whose `examples/sec`
    # and `global_step/sec` no other engine writes; the engine adds ExamplesPerSecHook instead.
    args["log_step_count_steps"] = None
    return tf.compat.v1.estimator.tpu.RunConfig(
        cluster=resolver,
        **args,
        tpu_config=tf.compat.v1.estimator.tpu.TPUConfig(
            iterations_per_loop=settings.iterations_per_loop,
            num_shards=settings.num_shards,
            per_host_input_for_training=tf.compat.v1.estimator.tpu.InputPipelineConfig.PER_HOST_V2,
        ),
    )


def make_estimator(
    build: ModelBuilder,
    input_name: str,
    class_names: Sequence[str],
    learning_rate: float,
    run_config: tf.compat.v1.estimator.tpu.RunConfig,
    use_tpu: bool,
    train_batch_size: int,
    eval_batch_size: int,
    optimizer_spec: OptimizerSpec = DEFAULT_OPTIMIZER,
) -> tf.compat.v1.estimator.tpu.TPUEstimator:
    """A TPUEstimator for the Keras model ``build`` returns; batch sizes are global."""
    shards = run_config.tpu_config.num_shards if use_tpu else None
    if shards:
        distribution.per_replica_batch(train_batch_size, shards)
        distribution.per_replica_batch(eval_batch_size, shards)
    return tf.compat.v1.estimator.tpu.TPUEstimator(
        model_fn=make_model_fn(
            build,
            input_name,
            class_names,
            learning_rate,
            use_tpu,
            optimizer_spec,
            summaries=(run_config.model_dir, run_config.save_summary_steps),
        ),
        config=run_config,
        use_tpu=use_tpu,
        train_batch_size=train_batch_size,
        eval_batch_size=eval_batch_size,
        predict_batch_size=eval_batch_size,
        # Serving runs on CPU hosts: decode and resize cannot run on a TPU.
        export_to_tpu=False,
        export_to_cpu=True,
    )


def make_input_fn(inputs: Inputs, role: str, mode: str, use_tpu: bool) -> Callable[[dict], tf.data.Dataset]:
    """A TPUEstimator input_fn over a job's role: it takes ``params`` and its ``batch_size``.

    On TPU every batch must have the same static shape, so evaluation drops
    the last partial batch too.
    """

    def input_fn(params: dict) -> tf.data.Dataset:
        batch = params["batch_size"]
        ds = inputs.make(role, mode, batch)()
        # PREDICT keeps its partial last batch: TPUEstimator pads it and drops the padding.
        if use_tpu and mode == EVALUATE:
            ds = ds.unbatch().batch(batch, drop_remainder=True)
        return ds

    return input_fn


def train_and_evaluate(
    estimator: tf.compat.v1.estimator.tpu.TPUEstimator,
    train_input_fn: Callable,
    eval_input_fn: Callable,
    max_steps: int,
    eval_steps: int,
    export_dir_base: str,
    receiver_fn: Callable,
    assets_extra: Mapping[str, str] | None = None,
    hooks: Sequence[tf.estimator.SessionRunHook] = (),
) -> TpuResult:
    """Train to ``max_steps``, evaluate ``eval_steps`` batches, export a CPU SavedModel.

    Train then evaluate, not tf.estimator.train_and_evaluate: a TPU is one
    job, and evaluating between checkpoints would stop its infeed each time.
    """
    estimator.train(train_input_fn, max_steps=max_steps, hooks=list(hooks))
    metrics = estimator.evaluate(eval_input_fn, steps=eval_steps)
    path = estimator.export_saved_model(export_dir_base, receiver_fn, assets_extra=assets_extra)
    return TpuResult(
        metrics={key: float(value) for key, value in metrics.items()},
        export_path=as_str(path),
    )


def eval_steps_for(split_size: int, eval_batch_size: int, eval_steps: int | None) -> int:
    """Evaluation batches: the given count, or every full batch of the split (TPU shapes are static)."""
    if eval_steps:
        return eval_steps
    return max(1, split_size // eval_batch_size)


def receiver_fn_for(input_name: str, image: ImageSpec) -> Callable:
    """The same image-bytes serving input as the other engines' exports."""
    return serving.image_bytes_receiver_fn(input_name, image)


class TpuEstimatorEngine:
    """--engine=tpu_estimator (with --strategy=tpu): train, evaluate on validation, export, report.

    It honours the optimizer, learning-rate schedule, mixed precision (bfloat16,
    set by the flow before the model is built), seeds and the report like the
    other engines; what a TPUEstimator cannot do here is refused up front.
    """

    name = "tpu_estimator"
    trains = (tasks.CLASSIFICATION,)  # the tasks it trains: its route builds image classifiers only

    def check(self, job: Job) -> None:
        check_distribution(self.name, job.distribution, job.cluster is not None)
        refusals = [
            (job.build is None, "engine", f"'{job.model_name}' is a canned Estimator; use --engine=estimator"),
            (job.assemble is not None, "bottleneck_cache", "not with --engine=tpu_estimator"),
            (job.warm_start_from is not None, "fine_tune_steps", "not with --engine=tpu_estimator"),
            (job.early_stopping is not None, "early_stopping_steps", "not with --engine=tpu_estimator"),
            (
                job.spec.task not in self.trains,
                "task",
                f"{self.name} trains {', '.join(self.trains)} (use --engine=estimator)",
            ),
            (job.spec.image is None, "model", "tpu_estimator trains image models"),
        ]
        for refused, flag, message in refusals:
            if refused:
                raise UsageError(flag, message)
        if job.distribution.use_tpu:
            # Before the gate and the model_dir: an unreachable TPU is a usage error, not a failed run
            # (the run flow's get_strategy looked first; a Job made by hand is checked here).
            distribution.find_tpu(job.distribution)

    def run(self, job: Job) -> Result:
        settings = settings_from(job.distribution)
        run_config = make_run_config(job.model_dir, job.checkpoints, settings, job.seed)
        scale = job.distribution.scale_learning_rate
        learning_rate = distribution.scaled_learning_rate(job.spec.learning_rate, settings.num_shards or 1, scale)
        estimator = make_estimator(
            job.build,
            job.spec.input_name,
            job.serving.class_names,
            learning_rate,
            run_config,
            settings.use_tpu,
            job.batch_size,
            job.batch_size,
            job.spec.optimizer,
        )
        progress = ProgressHook(job.max_steps, job.batch_size, job.progress_every_steps, job.stream)
        rate = ExamplesPerSecHook(job.model_dir, job.batch_size, job.checkpoints.save_summary_steps)
        labels = serving.write_labels(job.model_dir, job.serving.class_names)
        started = time.perf_counter()
        result = train_and_evaluate(
            estimator,
            make_input_fn(job.inputs, TRAIN_ROLE, FIT, settings.use_tpu),
            make_input_fn(job.inputs, VALIDATION, EVALUATE, settings.use_tpu),
            job.max_steps,
            eval_steps_for(job.inputs.sizes[VALIDATION], job.batch_size, job.eval_steps),
            os.path.join(job.model_dir, EXPORT_DIR, LATEST_EXPORTER),
            receiver_fn_for(job.spec.input_name, job.serving.image),
            assets_extra={LABELS_FILE: labels},
            hooks=[progress, rate],
        )
        elapsed = time.perf_counter() - started
        role = job.inputs.report_role
        report = estimator.evaluate(
            make_input_fn(job.inputs, role, EVALUATE, settings.use_tpu),
            # Static shapes on a TPU: whole batches only; on the CPU every example counts.
            steps=eval_steps_for(job.inputs.sizes[role], job.batch_size, None) if settings.use_tpu else None,
            name=role,
        )
        predictions = estimator.predict(make_input_fn(job.inputs, role, PREDICT, settings.use_tpu))
        return Result(
            metrics=dict(result.metrics),
            report_metrics={k: float(v) for k, v in report.items()},
            predictions=np.stack([p["probabilities"] for p in counted(predictions, job.prediction_progress(role))]),
            export_path=result.export_path,
            examples_per_sec=progress.examples_per_sec,
            train_seconds=elapsed,
        )
