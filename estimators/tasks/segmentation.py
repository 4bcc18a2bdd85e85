"""Segmentation: a softmax over the mask classes per pixel, sparse cross-entropy, mean IoU and pixel accuracy.

Deep Learning with Python ch. 9. A prediction is the per-pixel probabilities and
the class mask; the report (segmentation_report.py) adds IoU per class and a
few test images beside their true and predicted masks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import tensorflow as tf

from common import tasks
from estimators.tasks import segmentation_report
from estimators.tasks.base import Evaluation, ReportData, TaskPlugin, collect_labels

if TYPE_CHECKING:
    from estimators.models.spec import ModelSpec

MASK_OUTPUT = "mask"


class Segmentation(TaskPlugin):
    name = tasks.SEGMENTATION

    def head(self, x: tf.Tensor, spec: ModelSpec, l2: float | None = None) -> tf.Tensor:
        """A 3x3 convolution to the mask classes with a softmax per pixel, in float32."""
        return tf.keras.layers.Conv2D(
            spec.num_classes, 3, activation="softmax", padding="same", dtype="float32", name=self.task.output
        )(x)

    def loss(self, spec: ModelSpec) -> str | tf.keras.losses.Loss:
        return "sparse_categorical_crossentropy"

    def metrics(self, spec: ModelSpec) -> list[tf.keras.metrics.Metric]:
        return [
            tf.keras.metrics.MeanIoU(spec.num_classes, sparse_y_pred=False, name="mean_iou"),
            tf.keras.metrics.SparseCategoricalAccuracy(name="pixel_accuracy"),
        ]

    def outputs(self, output: tf.Tensor, class_names: tuple[str, ...]) -> dict[str, tf.Tensor]:
        """Per pixel: the probabilities and the class mask [batch, height, width]."""
        probabilities = tf.cast(output, tf.float32)
        return {"probabilities": probabilities, MASK_OUTPUT: tf.argmax(probabilities, axis=-1, output_type=tf.int32)}

    def batch_metric(self, labels: tf.Tensor, predictions: tf.Tensor) -> tf.Tensor:
        """The batch's mean IoU, as Keras's MeanIoU computes it over a split: per class, the true positives over
        the union of labelled and predicted pixels; the mean over the classes that occur in either."""
        classes = predictions.shape[-1]
        predicted = tf.reshape(tf.argmax(predictions, axis=-1), [-1])
        matrix = tf.math.confusion_matrix(tf.reshape(labels, [-1]), predicted, classes, dtype=tf.float32)
        hits = tf.linalg.diag_part(matrix)
        union = tf.reduce_sum(matrix, 0) + tf.reduce_sum(matrix, 1) - hits
        return tf.reduce_mean(tf.boolean_mask(hits / tf.maximum(union, 1.0), union > 0))

    def evaluate(self, data: ReportData) -> Evaluation:
        labels = collect_labels(data.read(data.role))
        report = segmentation_report.build_report(data.predictions, labels, data.class_names, data.split)
        images, masks = data.shown_images(segmentation_report.SAMPLES)
        true, predicted = masks[..., 0], np.argmax(data.predictions[: len(images)], axis=-1)
        write = lambda out: segmentation_report.write_report(report, out, images, true, predicted)  # noqa: E731
        return Evaluation(report, write, segmentation_report)


PLUGIN = Segmentation()
