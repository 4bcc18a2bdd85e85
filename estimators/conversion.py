"""Keras model -> tf.estimator.Estimator, with a RunConfig and class-name outputs."""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from common.errors import UsageError

PREDICT = tf.estimator.ModeKeys.PREDICT
SERVING_KEY = tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY


@dataclasses.dataclass(frozen=True)
class CheckpointPolicy:
    """How often an Estimator writes checkpoints, summaries and step-rate logs."""

    save_checkpoints_steps: int = 500
    save_summary_steps: int = 100
    keep_checkpoint_max: int = 5
    log_step_count_steps: int = 100


def make_run_config(
    model_dir: str,
    policy: CheckpointPolicy,
    seed: int | None = None,
    train_distribute: tf.distribute.Strategy | None = None,
    eval_distribute: tf.distribute.Strategy | None = None,
) -> tf.estimator.RunConfig:
    return tf.estimator.RunConfig(
        model_dir=model_dir,
        tf_random_seed=seed,
        save_checkpoints_steps=policy.save_checkpoints_steps,
        save_summary_steps=policy.save_summary_steps,
        keep_checkpoint_max=policy.keep_checkpoint_max,
        log_step_count_steps=policy.log_step_count_steps,
        train_distribute=train_distribute,
        eval_distribute=eval_distribute,
    )


def keras_to_estimator(model: tf.keras.Model, config: tf.estimator.RunConfig) -> tf.estimator.Estimator:
    """model_to_estimator, with its failures turned into errors that name the cause."""
    try:
        return tf.keras.estimator.model_to_estimator(keras_model=model, config=config, checkpoint_format="saver")
    except ValueError as err:
        raise UsageError("model", f"model '{model.name}' cannot become an Estimator: {err}") from None


def with_class_outputs(estimator: tf.estimator.Estimator, class_names: tuple[str, ...]) -> tf.estimator.Estimator:
    """Wrap ``estimator`` so predictions and exports carry class ids and names.

    A model_to_estimator Estimator predicts only its Keras outputs; serving
    clients want the decision too. Training and evaluation pass through
    unchanged, and the Keras warm start is kept (as tf.estimator.add_metrics does).
    """
    base_model_fn = estimator.model_fn
    names = list(class_names)

    def model_fn(features, labels, mode, config):
        spec = base_model_fn(features, labels, mode, config)
        if mode != PREDICT:
            return spec
        probabilities = spec.predictions
        if isinstance(probabilities, dict):
            (probabilities,) = probabilities.values()
        class_ids = tf.argmax(probabilities, axis=-1)
        predictions = {
            "probabilities": probabilities,
            "class_ids": class_ids,
            "class_names": tf.gather(tf.constant(names), class_ids),
        }
        return spec._replace(
            predictions=predictions,
            export_outputs={SERVING_KEY: tf.estimator.export.PredictOutput(predictions)},
        )

    return tf.estimator.Estimator(
        model_fn=model_fn,
        config=estimator.config,
        warm_start_from=estimator._warm_start_settings,  # noqa: SLF001  (as tf.estimator.add_metrics does)
    )
