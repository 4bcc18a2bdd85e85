"""What a prediction or a served request returns, per task: one place for the Estimator, Keras and exports."""

from __future__ import annotations

import tensorflow as tf

from common.tasks import REGRESSION, SEGMENTATION, Task

MASK_OUTPUT = "mask"


def class_outputs(probabilities: tf.Tensor, class_names: tuple[str, ...]) -> dict[str, tf.Tensor]:
    probabilities = tf.cast(probabilities, tf.float32)
    class_ids = tf.argmax(probabilities, axis=-1)
    return {
        "probabilities": probabilities,
        "class_ids": class_ids,
        "class_names": tf.gather(tf.constant(list(class_names)), class_ids),
    }


def task_outputs(task: Task, output: tf.Tensor, class_names: tuple[str, ...]) -> dict[str, tf.Tensor]:
    """Classification: probabilities, class ids and names. Regression: the predicted value per example.
    Segmentation: per-pixel probabilities and the class mask."""
    if task.name == REGRESSION:
        return {task.output: tf.reshape(tf.cast(output, tf.float32), [-1])}
    if task.name == SEGMENTATION:  # per pixel: the probabilities and the class mask [batch, height, width]
        probabilities = tf.cast(output, tf.float32)
        return {"probabilities": probabilities, MASK_OUTPUT: tf.argmax(probabilities, axis=-1, output_type=tf.int32)}
    return class_outputs(output, class_names)
