"""train_and_evaluate for one task of a TF_CONFIG cluster, with the chief's evaluation and export.

``tf.estimator.train_and_evaluate`` already runs every task type:

- multi_worker_mirrored (RunConfig.train_distribute set): the distribute
  coordinator runs synchronous training on chief and workers;
- parameter_server (no strategy): classic between-graph training; ps tasks
  serve variables (here until the chief's server goes away, then they return);
- an ``evaluator`` task evaluates each new checkpoint and runs the exporters.

What it does not do is evaluate or export on a training task: they return
nothing, and an evaluator exports only if it happens to see the last
checkpoint. Here the chief evaluates the final checkpoint and exports it,
through a local copy of the Estimator (the cluster's Estimator would place
its graph on remote jobs or re-enter the distribute coordinator).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterator, Mapping

import tensorflow as tf

from common.names import as_str
from estimators.distribute import cluster as cluster_lib


@dataclasses.dataclass(frozen=True)
class TaskResult:
    """What one task ends with; metrics and export only on the task that evaluated and exported."""

    task_type: str
    task_index: int
    metrics: Mapping[str, float] | None
    export_path: str | None


@contextlib.contextmanager
def without_tf_config() -> Iterator[None]:
    """Hide TF_CONFIG while building a RunConfig: it reads the variable in its constructor."""
    saved = os.environ.pop(cluster_lib.ENV, None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ[cluster_lib.ENV] = saved


def local_estimator(estimator: tf.estimator.Estimator) -> tf.estimator.Estimator:
    """The same model_fn and model_dir on this process alone: no cluster, no strategy."""
    config = estimator.config
    with without_tf_config():
        local_config = tf.estimator.RunConfig(
            model_dir=config.model_dir,
            tf_random_seed=config.tf_random_seed,
            keep_checkpoint_max=config.keep_checkpoint_max,
        )
    return tf.estimator.Estimator(model_fn=estimator.model_fn, config=local_config, params=estimator.params or None)


def train_and_evaluate(
    estimator: tf.estimator.Estimator,
    train_spec: tf.estimator.TrainSpec,
    eval_spec: tf.estimator.EvalSpec,
    cluster: cluster_lib.Cluster | None,
    export: Callable[[tf.estimator.Estimator], str],
) -> TaskResult:
    """Run this process's task; the chief then evaluates the final checkpoint and exports it.

    ``export(estimator)`` writes a SavedModel and returns its path. Without a
    cluster this is plain train_and_evaluate (exporting through
    ``eval_spec``'s exporters, or ``export`` when there was nothing new to
    train). In a cluster the exporters are dropped: the chief exports once
    after training, and an evaluator task only evaluates (for TensorBoard),
    so exactly one SavedModel is written. A ps task serves until the chief has finished.
    """
    if cluster is None:
        metrics, export_paths = tf.estimator.train_and_evaluate(estimator, train_spec, eval_spec) or (None, None)
        if not metrics or not export_paths:
            # model_dir was already trained to max_steps: nothing was evaluated or exported.
            metrics = estimator.evaluate(eval_spec.input_fn, steps=eval_spec.steps, name=eval_spec.name)
            export_paths = [export(estimator)]
        return TaskResult("chief", 0, _floats(metrics), _last_path(export_paths))
    if cluster.task_type == cluster_lib.PS:
        # Estimator's own ps task joins its server forever; this one returns once the chief is done.
        from estimators.distribute.cluster_serve import serve_cluster_task

        serve_cluster_task(cluster)
        return TaskResult(cluster.task_type, cluster.task_index, None, None)
    tf.estimator.train_and_evaluate(estimator, train_spec, eval_spec._replace(exporters=()))
    if not cluster.is_chief:
        return TaskResult(cluster.task_type, cluster.task_index, None, None)
    local = local_estimator(estimator)
    metrics = local.evaluate(eval_spec.input_fn, steps=eval_spec.steps, name=eval_spec.name)
    return TaskResult(cluster.task_type, cluster.task_index, _floats(metrics), export(local))


def _floats(metrics: Mapping | None) -> dict[str, float] | None:
    return {key: float(value) for key, value in metrics.items()} if metrics else None


def _last_path(paths) -> str | None:
    return as_str(paths[-1]) if paths else None
