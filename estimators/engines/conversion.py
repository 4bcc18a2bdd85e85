"""Keras model -> tf.estimator.Estimator, with a RunConfig and the task's serving outputs."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from common.errors import UsageError
from common.names import SERVING_KEY
from common.params import CheckpointPolicy
from common.tasks import CLASSIFICATION, TASKS, Task
from estimators.serving import receivers
from estimators.tasks import load as load_task

PREDICT = tf.estimator.ModeKeys.PREDICT


def make_run_config(
    model_dir: str,
    policy: CheckpointPolicy,
    seed: int | None = None,
    train_distribute: tf.distribute.Strategy | None = None,
    eval_distribute: tf.distribute.Strategy | None = None,
) -> tf.estimator.RunConfig:
    return tf.estimator.RunConfig(
        **run_config_args(model_dir, policy, seed), train_distribute=train_distribute, eval_distribute=eval_distribute
    )


def run_config_args(model_dir: str, policy: CheckpointPolicy, seed: int | None) -> dict:
    """What every RunConfig (the Estimator's and the TPUEstimator's) takes from the checkpoint policy."""
    return {
        "model_dir": model_dir,
        "tf_random_seed": seed,
        "save_checkpoints_steps": policy.save_checkpoints_steps,
        "save_summary_steps": policy.save_summary_steps,
        "keep_checkpoint_max": policy.keep_checkpoint_max,
        "log_step_count_steps": policy.log_step_count_steps,
    }


def keras_to_estimator(model: tf.keras.Model, config: tf.estimator.RunConfig) -> tf.estimator.Estimator:
    """model_to_estimator, with its failures turned into errors that name the cause."""
    check_convertible(model)
    try:
        return tf.keras.estimator.model_to_estimator(keras_model=model, config=config, checkpoint_format="saver")
    except (ValueError, TypeError, NotImplementedError) as err:
        first_line = str(err).strip().splitlines()[0]
        raise UsageError("model", f"model '{model.name}' cannot become an Estimator: {first_line}") from None


def check_convertible(model: tf.keras.Model) -> None:
    """model_to_estimator clones the model in a new graph, layer by layer, with
    ``type(layer).from_config(layer.get_config())``; a custom layer that cannot
    make that round trip fails deep inside the first training step. Try it here.
    """
    for layer in model.layers:
        if type(layer).__module__.startswith(_BUILT_IN_LAYER_MODULES):
            continue
        try:
            type(layer).from_config(layer.get_config())
        except Exception as err:  # noqa: BLE001  (NotImplementedError, TypeError, ValueError: all mean "cannot clone")
            reason = str(err).strip().splitlines()[0] if str(err).strip() else ""
            raise UsageError(
                "model",
                f"model '{model.name}' cannot become an Estimator: layer '{layer.name}' "
                f"({type(layer).__name__}) cannot be rebuilt from its config ({type(err).__name__}: {reason}); "
                "give it a get_config that from_config accepts, or train with --engine=keras",
            ) from None


# Keras's own layers and hub.KerasLayer clone fine (and re-loading a Hub module to check would be slow).
_BUILT_IN_LAYER_MODULES = ("keras.", "tf_keras.", "tensorflow_hub.")


def model_variable_names(model: tf.keras.Model) -> dict[str, list[int]]:
    """Checkpoint key -> shape of each Keras weight, as model_to_estimator names them."""
    return {weight.name.split(":")[0]: weight.shape.as_list() for weight in model.weights}


def check_checkpoint_matches(model_dir: str, model: tf.keras.Model) -> None:
    """A model_dir holding a checkpoint of another architecture is an error naming the mismatch.

    Without this the Estimator fails deep in a restore with a NotFoundError or
    a shape assertion; here the first differing variable is named instead.
    """
    checkpoint = tf.train.latest_checkpoint(model_dir)
    if checkpoint is None:
        return
    stored = dict(tf.train.list_variables(checkpoint))
    advice = "use another --model_dir or pass --overwrite_model_dir"
    if any(".ATTRIBUTES" in key for key in stored):
        raise UsageError("model_dir", f"'{model_dir}' holds a checkpoint written by --engine=keras; {advice}")
    for name, shape in model_variable_names(model).items():
        if name not in stored:
            raise UsageError(
                "model_dir",
                f"'{model_dir}' holds a checkpoint of a different architecture than '{model.name}': "
                f"it has no variable '{name}'; {advice}",
            )
        if list(stored[name]) != shape:
            raise UsageError(
                "model_dir",
                f"'{model_dir}' holds a checkpoint of a different architecture than '{model.name}': "
                f"variable '{name}' has shape {list(stored[name])} there and {shape} in the model; {advice}",
            )


def warm_start_settings(checkpoint_dir: str, model: tf.keras.Model) -> tf.estimator.WarmStartSettings:
    """Warm-start every model weight (trainable or not: BatchNorm statistics too) from ``checkpoint_dir``.

    Optimizer slots and the global step are left out: stage 2 of fine-tuning
    trains more variables than stage 1 had slots for, and counts its own steps.
    """
    # Each regex is matched against graph variable names, which carry an output index (":0").
    names = [f"^{re.escape(name)}(/part_\\d+)?:\\d+$" for name in model_variable_names(model)]
    return tf.estimator.WarmStartSettings(ckpt_to_initialize_from=checkpoint_dir, vars_to_warm_start=names)


def read_estimator_weights(model_dir: str, model: tf.keras.Model) -> dict[str, np.ndarray]:
    """The values the latest checkpoint in ``model_dir`` holds for ``model``'s weights, by name."""
    reader = tf.train.load_checkpoint(model_dir)
    return {name: reader.get_tensor(name) for name in model_variable_names(model)}


def with_summaries(
    estimator: tf.estimator.Estimator,
    learning_rate_fn: Callable[[tf.Tensor], tf.Tensor],
    image_key: str | None,
    max_images: int = 4,
    task: Task = TASKS[CLASSIFICATION],
) -> tf.estimator.Estimator:
    """Add the training scalars of docs/estimators.md ("TensorBoard") and a sample image batch.

    The Estimator's summary hook writes every summary in the graph each
    save_summary_steps. Training writes ``loss`` and the task's metric
    (``accuracy``; ``mae`` for regression), of the batch just trained on, under
    the tags the evaluation writes them, so the two plot on one chart, and the
    Keras engine writes the same tags.
    """
    base_model_fn = estimator.model_fn

    def model_fn(features, labels, mode, config):
        spec = base_model_fn(features, labels, mode, config)
        if mode == tf.estimator.ModeKeys.TRAIN:
            _add_loss_summary(spec.loss)
            value = batch_metric(task, labels, spec.predictions)
            if value is not None:
                tf.compat.v1.summary.scalar(task.metric, value)
            step = tf.compat.v1.train.get_global_step()
            tf.compat.v1.summary.scalar("learning_rate", learning_rate_fn(step))
            if isinstance(features, dict) and image_key in features and features[image_key].shape.rank == 4:
                tf.compat.v1.summary.image("sample_images", displayable(features[image_key]), max_outputs=max_images)
        return spec

    return tf.estimator.Estimator(
        model_fn=model_fn,
        config=estimator.config,
        warm_start_from=estimator._warm_start_settings,  # noqa: SLF001  (as tf.estimator.add_metrics does)
    )


def _add_loss_summary(loss: tf.Tensor) -> None:
    """A summary tagged ``loss`` whose op is named ``loss``.

    The Keras graph already uses the name ``loss``, so ``summary.scalar("loss")``
    would be tagged ``loss_1``, as the Estimator's own is. The Estimator adds
    its own only when no summary op is named ``loss``: this one, named by the
    scope (``loss/`` re-enters the scope and names the op ``loss``), stops it.
    """
    graph = tf.compat.v1.get_default_graph()
    try:
        graph.get_operation_by_name("loss")
        return  # replica 0's model_fn made it already: the summaries are of replica 0, as the Estimator's own
    except KeyError:
        pass
    # Under a strategy each replica's loss is divided by the replica count (the gradients are summed):
    # undone, it is the mean loss of this replica's share of the batch, on the scale of the evaluation's.
    replicas = tf.distribute.get_replica_context().num_replicas_in_sync
    op = tf.raw_ops.ScalarSummary(tags="loss", values=loss * replicas, name="loss/")
    tf.compat.v1.add_to_collection(tf.compat.v1.GraphKeys.SUMMARIES, op)


def batch_metric(task: Task, labels, predictions) -> tf.Tensor | None:
    """The task's metric on one batch: accuracy (Keras's SparseCategoricalAccuracy), or the mean absolute error."""
    if isinstance(predictions, dict):
        if len(predictions) != 1:
            return None
        (predictions,) = predictions.values()
    if isinstance(labels, dict):
        if len(labels) != 1:
            return None
        (labels,) = labels.values()
    if labels is None or predictions is None:
        return None
    own = load_task(task).batch_metric(labels, predictions)
    if own is not None:
        return own
    if task.predicts_value:
        return tf.reduce_mean(tf.abs(tf.reshape(predictions, [-1]) - tf.reshape(tf.cast(labels, tf.float32), [-1])))
    matches = tf.keras.metrics.sparse_categorical_accuracy(labels, predictions)
    return tf.reduce_mean(tf.cast(matches, tf.float32))


def displayable(images: tf.Tensor) -> tf.Tensor:
    """Model inputs (any normalisation) stretched to [0, 1] per image, for an image summary."""
    images = tf.cast(images, tf.float32)
    low = tf.reduce_min(images, axis=[1, 2, 3], keepdims=True)
    high = tf.reduce_max(images, axis=[1, 2, 3], keepdims=True)
    return (images - low) / tf.maximum(high - low, 1e-6)


def with_serving_outputs(
    estimator: tf.estimator.Estimator,
    class_names: tuple[str, ...],
    warm_start_from: tf.estimator.WarmStartSettings | str | None = None,
    task: Task = TASKS[CLASSIFICATION],
) -> tf.estimator.Estimator:
    """Wrap ``estimator`` so predictions and exports carry the task's outputs (its plug-in's, estimators/tasks).

    A model_to_estimator Estimator predicts only its Keras outputs; serving
    clients want the decision too (class ids and names; a regression's value as
    a number per example). Training and evaluation pass through unchanged, and
    the Keras warm start is kept (as tf.estimator.add_metrics does) unless
    ``warm_start_from`` replaces it (stage 2 of fine-tuning starts from stage 1).
    A canned Estimator's prediction dict is read for its ``probabilities``.
    """
    base_model_fn = estimator.model_fn

    def model_fn(features, labels, mode, config):
        if mode != PREDICT:
            return base_model_fn(features, labels, mode, config)
        # A batch of 0 runs as one zero row, sliced off below (TF 2.15's oneDNN Conv2D mis-shapes empty batches).
        rows = None  # a bare tensor (not a serving receiver): [:None] keeps every row
        if isinstance(features, dict):
            features, rows = receivers.pad_empty_batch(features)
        spec = base_model_fn(features, labels, mode, config)
        output = spec.predictions
        if isinstance(output, dict):
            if task.output in output:
                output = output[task.output]
            else:
                (output,) = output.values()
        predictions = load_task(task).outputs(output[:rows], class_names)
        return spec._replace(
            predictions=predictions,
            export_outputs={SERVING_KEY: tf.estimator.export.PredictOutput(predictions)},
        )

    return tf.estimator.Estimator(
        model_fn=model_fn,
        config=estimator.config,
        warm_start_from=warm_start_from or estimator._warm_start_settings,  # noqa: SLF001  (as add_metrics does)
    )
