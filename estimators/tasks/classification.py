"""Classification: a softmax over the classes, sparse cross-entropy, accuracy; probabilities, class ids and names.

Its report (classification_report.py) is the accuracy, per-class precision and
recall and a confusion matrix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import tensorflow as tf

from common import tasks
from estimators.tasks import classification_report
from estimators.tasks.base import Evaluation, ReportData, TaskPlugin, collect_labels
from estimators.training.optimizers import make_loss

if TYPE_CHECKING:
    from estimators.models.spec import ModelSpec


def classifier_head(x: tf.Tensor, spec: ModelSpec, l2: float | None = None) -> tf.Tensor:
    """Softmax over the classes, in float32 even under a mixed-precision policy."""
    regularizer = tf.keras.regularizers.l2(l2) if l2 else None
    return tf.keras.layers.Dense(
        spec.num_classes,
        activation="softmax",
        kernel_regularizer=regularizer,
        dtype="float32",
        name=tasks.TASKS[tasks.CLASSIFICATION].output,
    )(x)


def compile_classifier(model: tf.keras.Model, spec: ModelSpec) -> tf.keras.Model:
    return PLUGIN.compile(model, spec)


def class_outputs(probabilities: tf.Tensor, class_names: tuple[str, ...]) -> dict[str, tf.Tensor]:
    probabilities = tf.cast(probabilities, tf.float32)
    class_ids = tf.argmax(probabilities, axis=-1)
    return {
        "probabilities": probabilities,
        "class_ids": class_ids,
        "class_names": tf.gather(tf.constant(list(class_names)), class_ids),
    }


class Classification(TaskPlugin):
    name = tasks.CLASSIFICATION

    def head(self, x: tf.Tensor, spec: ModelSpec, l2: float | None = None) -> tf.Tensor:
        return classifier_head(x, spec, l2)

    def loss(self, spec: ModelSpec) -> str | tf.keras.losses.Loss:
        return make_loss(spec.num_classes, spec.label_smoothing)

    def metrics(self, spec: ModelSpec) -> list[tf.keras.metrics.Metric]:
        return [tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy")]

    def outputs(self, output: tf.Tensor, class_names: tuple[str, ...]) -> dict[str, tf.Tensor]:
        return class_outputs(output, class_names)

    def evaluate(self, data: ReportData) -> Evaluation:
        labels = collect_labels(data.read(data.role))
        report = classification_report.build_report(data.predictions, labels, data.class_names, data.split)
        return Evaluation(report, lambda out: classification_report.write_report(report, out), classification_report)


PLUGIN = Classification()
