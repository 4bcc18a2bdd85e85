"""Regression: one linear unit, mean squared error, the mean absolute error (``mae``); one value per example.

Lecture 03's Boston-housing DNN. Its report (regression_report.py) sets the
errors beside the baseline's, the training mean predicted for every example.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import tensorflow as tf

from common import tasks
from common.params import TRAIN
from estimators.tasks import regression_report
from estimators.tasks.base import Evaluation, ReportData, TaskPlugin, collect_labels

if TYPE_CHECKING:
    from estimators.models.spec import ModelSpec


class Regression(TaskPlugin):
    name = tasks.REGRESSION
    tflite_labels = False  # one value, no classes to name

    def head(self, x: tf.Tensor, spec: ModelSpec, l2: float | None = None) -> tf.Tensor:
        """One linear output, in float32 even under a mixed-precision policy."""
        return tf.keras.layers.Dense(1, dtype="float32", name=self.task.output)(x)

    def loss(self, spec: ModelSpec) -> str | tf.keras.losses.Loss:
        return tf.keras.losses.MeanSquaredError()

    def metrics(self, spec: ModelSpec) -> list[tf.keras.metrics.Metric]:
        # The mean absolute error, in the target's units.
        return [tf.keras.metrics.MeanAbsoluteError(name="mae")]

    def outputs(self, output: tf.Tensor, class_names: tuple[str, ...]) -> dict[str, tf.Tensor]:
        return {self.task.output: tf.reshape(tf.cast(output, tf.float32), [-1])}

    def evaluate(self, data: ReportData) -> Evaluation:
        labels = collect_labels(data.read(data.role))
        train_labels = collect_labels(data.read(TRAIN))
        report = regression_report.build_report(data.predictions, labels, train_labels, data.split)
        # Over every example: the Estimator's evaluate averages mae and loss per batch, counting a short last
        # batch as a full one, so its figures drift from the report's by a few percent.
        return Evaluation.written_by(report, regression_report.WRITER, report.metrics())


PLUGIN = Regression()
