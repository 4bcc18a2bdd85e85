"""--engine=estimator: model_to_estimator (or a canned Estimator) under tf.estimator.train_and_evaluate.

TrainSpec carries max_steps, the progress hook and early stopping; EvalSpec
carries the eval steps, throttling and two exporters: a BestExporter on the
eval metric (export/best) and a LatestExporter (export/serving).
"""

from __future__ import annotations

import os
import time

import numpy as np
import tensorflow as tf

from common.errors import NonFiniteLossError, UsageError
from common.names import BEST_EXPORTER, EXPORT_DIR, LATEST_EXPORTER, as_str
from common.params import TRAIN, VALIDATION
from common.progress import counted
from common.tasks import Task
from estimators.distribute import cluster_run
from estimators.engines import Job, Result, check_distribution, conversion, export_assembled
from estimators.engines.early_stopping import EarlyStopping
from estimators.engines.hooks import ExamplesPerSecHook, ProgressHook
from estimators.models.canned import make_canned_estimator
from estimators.serving import receivers as serving
from estimators.training.optimizers import learning_rate_at
from input_fns import pipeline_ops


def _better(task: Task):
    """BestExporter's compare_fn on the task's metric (higher accuracy, lower mae)."""

    def better(best_eval_result: dict, current_eval_result: dict) -> bool:
        best, current = best_eval_result[task.metric], current_eval_result[task.metric]
        return current > best if task.higher_is_better else current < best

    return better


class EstimatorEngine:
    name = "estimator"

    def check(self, job: Job) -> None:
        check_distribution(self.name, job.distribution, job.cluster is not None)
        if job.build is not None and _mixed_precision() and _local_replicas(job.strategy) > 1:
            # Each replica's model_to_estimator clone wraps the one mirrored variable in its own
            # AutoCastVariable, and the optimizer's update then fails on the per-replica wrappers.
            raise UsageError(
                "mixed_precision",
                f"not with --engine=estimator on {_local_replicas(job.strategy)} replicas of one process "
                f"(--strategy={job.distribution.strategy}); use --engine=keras, or one replica per process",
            )

    def run(self, job: Job) -> Result:
        estimator, model = self._estimator(job)
        # A stage whose served model is assembled after training (the bottleneck head) exports once, at the end.
        receiver_fn = self._receiver_fn(job) if job.assemble is None else None
        exporters, assets = [], {}
        if receiver_fn is not None:
            assets = serving.export_assets(job.model_dir, job.serving)
            exporters = [
                tf.estimator.BestExporter(
                    BEST_EXPORTER, receiver_fn, compare_fn=_better(job.task), assets_extra=assets, exports_to_keep=1
                ),
                tf.estimator.LatestExporter(LATEST_EXPORTER, receiver_fn, assets_extra=assets, exports_to_keep=3),
            ]
        progress = ProgressHook(job.max_steps, job.batch_size, job.progress_every_steps, job.stream)
        hooks = [progress]
        if estimator.config.is_chief:  # the chief alone writes summaries (as the Estimator's own hook)
            hooks.append(ExamplesPerSecHook(job.model_dir, job.batch_size, job.checkpoints.save_summary_steps))
        if job.early_stopping is not None:
            hook = _early_stopping_hook(estimator, job.early_stopping, job.checkpoints.save_checkpoints_steps)
            hooks.append(_Announced(hook, job.early_stopping, job.max_steps, job.stream))
        train_spec = tf.estimator.TrainSpec(job.input_fn(TRAIN, pipeline_ops.FIT), max_steps=job.max_steps, hooks=hooks)
        validation_fn = job.input_fn(VALIDATION, pipeline_ops.EVALUATE)
        eval_spec = tf.estimator.EvalSpec(
            validation_fn,
            steps=job.eval_steps,
            exporters=exporters,
            start_delay_secs=job.eval_start_delay_secs,
            throttle_secs=job.eval_throttle_secs,
        )

        started = time.perf_counter()
        try:
            if job.cluster is not None:
                return self._run_cluster_task(job, estimator, train_spec, eval_spec, receiver_fn, assets, progress)
            metrics, export_paths = tf.estimator.train_and_evaluate(estimator, train_spec, eval_spec)
        except tf.compat.v1.train.NanLossDuringTrainingError:
            # Estimator's own NanTensorHook stopped the step before any export.
            raise NonFiniteLossError(progress.last_step) from None
        if not metrics:
            # The model_dir was already trained to max_steps (or early stopping
            # ended the run between evaluations): evaluate what is there.
            metrics = estimator.evaluate(validation_fn, steps=job.eval_steps)
        export_path = _latest_export(export_paths)
        if job.assemble is not None:
            export_path = export_assembled(job, conversion.read_estimator_weights(job.model_dir, model))
        elif receiver_fn is not None and export_path is None:
            export_path = estimator.export_saved_model(
                os.path.join(job.model_dir, EXPORT_DIR, LATEST_EXPORTER), receiver_fn, assets_extra=assets
            )
        elapsed = time.perf_counter() - started
        report_metrics, predictions = _evaluate_report(estimator, job)
        return Result(
            metrics={k: float(v) for k, v in metrics.items()},
            report_metrics=report_metrics,
            predictions=predictions,
            export_path=as_str(export_path),
            examples_per_sec=progress.examples_per_sec,
            train_seconds=elapsed,
        )

    def _run_cluster_task(self, job, estimator, train_spec, eval_spec, receiver_fn, assets, progress) -> Result:
        """One task of a TF_CONFIG cluster: train; the chief alone then evaluates, exports once and reports."""

        def export(local: tf.estimator.Estimator) -> str:
            base = os.path.join(job.model_dir, EXPORT_DIR, LATEST_EXPORTER)
            return as_str(local.export_saved_model(base, receiver_fn, assets_extra=assets))

        started = time.perf_counter()
        task = cluster_run.train_and_evaluate(estimator, train_spec, eval_spec, job.cluster, export)
        elapsed = time.perf_counter() - started
        # The cluster's Estimator would evaluate under the distribute coordinator: the chief reports on its own.
        local = cluster_run.local_estimator(estimator) if task.metrics else None
        report_metrics, predictions = _evaluate_report(local, job) if local else ({}, None)
        return Result(
            metrics=task.metrics or {},
            report_metrics=report_metrics,
            predictions=predictions,
            export_path=task.export_path,
            examples_per_sec=progress.examples_per_sec,
            train_seconds=elapsed,
            task=None if task.metrics else f"{job.cluster.task_type}:{job.cluster.task_index}",
        )

    def _estimator(self, job: Job) -> tuple[tf.estimator.Estimator, tf.keras.Model | None]:
        config = conversion.make_run_config(
            job.model_dir,
            job.checkpoints,
            seed=job.seed,
            train_distribute=job.strategy,
            eval_distribute=job.strategy,
        )
        class_names = job.serving.class_names if job.serving else tuple(str(i) for i in range(job.spec.num_classes))
        if job.build is None:
            estimator = make_canned_estimator(job.model_name, job.spec, config)
            warm = job.warm_start_from
            return conversion.with_serving_outputs(estimator, class_names, warm_start_from=warm), None
        model = job.build()
        conversion.check_checkpoint_matches(job.model_dir, model)
        estimator = conversion.keras_to_estimator(model, config)
        warm = conversion.warm_start_settings(job.warm_start_from, model) if job.warm_start_from else None
        estimator = conversion.with_serving_outputs(estimator, class_names, warm_start_from=warm, task=job.task)
        spec = job.spec

        def learning_rate(step: tf.Tensor) -> tf.Tensor:
            return learning_rate_at(spec.optimizer, spec.learning_rate, step)

        image_key = spec.input_name if spec.image is not None else None
        return conversion.with_summaries(estimator, learning_rate, image_key, task=job.task), model

    @staticmethod
    def _receiver_fn(job: Job):
        if job.serving is None:
            return None
        if job.serving.image is not None:
            return serving.image_bytes_receiver_fn(job.serving.input_name, job.serving.image)
        if job.serving.series is not None:
            return serving.series_receiver_fn(job.serving.series)
        if job.serving.text_input is not None:
            return serving.text_receiver_fn(job.serving.text_input)
        return serving.features_receiver_fn(job.serving.features, job.serving.scaling)


def _mixed_precision() -> bool:
    """Whether the Keras policy the model will be built under computes in another dtype than its variables."""
    policy = tf.keras.mixed_precision.global_policy()
    return policy.compute_dtype != policy.variable_dtype


def _local_replicas(strategy: tf.distribute.Strategy | None) -> int:
    return len(strategy.extended.worker_devices) if strategy is not None else 1


def _early_stopping_hook(
    estimator: tf.estimator.Estimator, rule: EarlyStopping, every_steps: int
) -> tf.estimator.SessionRunHook:
    # The hooks read the eval event files train_and_evaluate writes; they check
    # each time a checkpoint (and so an evaluation) can have happened.
    make = (
        tf.estimator.experimental.stop_if_no_increase_hook
        if rule.higher_is_better
        else tf.estimator.experimental.stop_if_no_decrease_hook
    )
    return make(
        estimator,
        rule.metric,
        rule.max_steps_without_improvement,
        min_steps=rule.min_steps,
        run_every_secs=None,
        run_every_steps=every_steps,
    )


class _Announced(tf.estimator.SessionRunHook):
    """An early-stopping hook that prints the rule's line when it is the hook that stops the run."""

    def __init__(self, inner: tf.estimator.SessionRunHook, rule: EarlyStopping, max_steps: int, stream):
        self._inner, self._rule, self._max_steps, self._stream = inner, rule, max_steps, stream

    def begin(self) -> None:
        self._inner.begin()

    def after_create_session(self, session, coord) -> None:
        self._inner.after_create_session(session, coord)

    def before_run(self, run_context):
        return self._inner.before_run(run_context)

    def after_run(self, run_context, run_values) -> None:
        stopping = run_context.stop_requested
        self._inner.after_run(run_context, run_values)
        if run_context.stop_requested and not stopping:
            # The inner hook reads the step before this one ran: this step is the last.
            self._rule.announce(int(run_values.results) + 1, self._max_steps, self._stream)

    def end(self, session) -> None:
        self._inner.end(session)


def _evaluate_report(estimator: tf.estimator.Estimator, job: Job) -> tuple[dict[str, float], np.ndarray]:
    """The task's metrics and every prediction on the report role, from the latest checkpoint."""
    role, key = job.inputs.report_role, job.task.output
    input_fn = job.input_fn(role, pipeline_ops.EVALUATE)
    metrics = estimator.evaluate(input_fn, name=role)
    predictions = estimator.predict(job.input_fn(role, pipeline_ops.PREDICT), yield_single_examples=True)
    outputs = np.stack([p[key] for p in counted(predictions, job.prediction_progress(role))])
    return {k: float(v) for k, v in metrics.items()}, outputs


def _latest_export(export_paths) -> bytes | str | None:
    # train_and_evaluate returns the exporters' results in order: best, then latest.
    if not export_paths:
        return None
    found = [p for p in export_paths if p]
    return found[-1] if found else None
