"""Forecasting: a value some rows ahead of a window of a series, trained as a regression in the target's units.

Deep Learning with Python ch. 10 (Jena climate). The head gives the forecast
back in the target's units; the report (forecasting_report.py) sets the errors
beside the common-sense forecast's (the target at the window's last row).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import tensorflow as tf

from common import tasks
from estimators.tasks import forecasting_report
from estimators.tasks.base import Evaluation, ReportData, collect_labels
from estimators.tasks.regression import Regression

if TYPE_CHECKING:
    from estimators.models.spec import ModelSpec


class Forecasting(Regression):
    """Regression's loss, metrics and outputs; its own head and report."""

    name = tasks.FORECASTING

    def head(self, x: tf.Tensor, spec: ModelSpec, l2: float | None = None) -> tf.Tensor:
        """One linear output in standard units, given back in the target's own (the training part's mean and std)."""
        series = spec.series
        target = series.target_index
        x = tf.keras.layers.Dense(1, dtype="float32", name="forecast_standardised")(x)
        return tf.keras.layers.Rescaling(
            series.std[target], series.mean[target], dtype="float32", name=self.task.output
        )(x)

    def evaluate(self, data: ReportData) -> Evaluation:
        labels = collect_labels(data.read(data.role))
        baseline = forecasting_report.collect_baseline(data.read(data.role), data.series)
        report = forecasting_report.build_report(data.predictions, labels, baseline, data.series, data.split)
        return Evaluation.written_by(report, forecasting_report.WRITER, report.metrics())  # over every window


PLUGIN = Forecasting()
