"""What a prediction or a served request returns, per task: one place for the Estimator, Keras and exports."""

from __future__ import annotations

import tensorflow as tf

from common.tasks import Task


def class_outputs(probabilities: tf.Tensor, class_names: tuple[str, ...]) -> dict[str, tf.Tensor]:
    probabilities = tf.cast(probabilities, tf.float32)
    class_ids = tf.argmax(probabilities, axis=-1)
    return {
        "probabilities": probabilities,
        "class_ids": class_ids,
        "class_names": tf.gather(tf.constant(list(class_names)), class_ids),
    }


def task_outputs(task: Task, output: tf.Tensor, class_names: tuple[str, ...]) -> dict[str, tf.Tensor]:
    """Classification: probabilities, class ids and names. Regression, forecasting: the value per example."""
    if task.predicts_value:
        return {task.output: tf.reshape(tf.cast(output, tf.float32), [-1])}
    return class_outputs(output, class_names)
