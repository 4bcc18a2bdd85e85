"""The evaluation report of a regression: errors beside the baseline, a predicted-vs-true PNG, report.html.

The baseline predicts the training targets' mean for every example: a model
that does not beat it has learnt nothing from the features, however small its
error looks on its own.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from estimators.reports.errors import ErrorMetrics, as_float64, as_floats, errors_beside_baseline, gain_over_baseline
from estimators.reports.page import Figure, PrintedReport, png_bytes, pyplot

SCATTER_PNG = "predictions.png"


@dataclasses.dataclass(frozen=True)
class RegressionReport(ErrorMetrics):
    split: str
    examples: int
    mae: float
    rmse: float
    r2: float
    baseline_mae: float  # predicting the training targets' mean
    baseline_rmse: float
    train_mean: float
    true: tuple[float, ...]
    predicted: tuple[float, ...]

    def format(self) -> str:
        gain = gain_over_baseline(self.mae, self.baseline_mae)
        return "\n".join(
            [
                f"evaluation on '{self.split}': mae {self.mae:.4f} over {self.examples} examples "
                f"(baseline {self.baseline_mae:.4f}, the training mean {self.train_mean:.4g} for all: {gain:+.0%})",
                f"rmse {self.rmse:.4f} (baseline {self.baseline_rmse:.4f})  r2 {self.r2:.4f}",
            ]
        )


def build_report(predicted: np.ndarray, labels: np.ndarray, train_labels: np.ndarray, split: str) -> RegressionReport:
    predicted, labels = as_float64(predicted), as_float64(labels)
    mean = float(np.mean(train_labels))
    spread = float(np.sum((labels - labels.mean()) ** 2))
    return RegressionReport(
        split=split,
        examples=len(labels),
        **errors_beside_baseline(predicted, labels, mean),
        r2=1.0 - float(np.sum((predicted - labels) ** 2)) / spread if spread else 0.0,
        train_mean=mean,
        true=as_floats(labels),
        predicted=as_floats(predicted),
    )


def scatter_png(report: RegressionReport) -> bytes:
    plt = pyplot()
    true, predicted = np.array(report.true), np.array(report.predicted)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.5))
    low, high = float(min(true.min(), predicted.min())), float(max(true.max(), predicted.max()))
    left.scatter(true, predicted, s=12, alpha=0.7)
    left.plot([low, high], [low, high], color="grey", linewidth=1, label="perfect")
    left.axhline(report.train_mean, color="tab:red", linestyle="--", linewidth=1, label="baseline (training mean)")
    left.set_xlabel("true")
    left.set_ylabel("predicted")
    left.set_title(f"{report.split}: mae {report.mae:.3f} (baseline {report.baseline_mae:.3f}), r2 {report.r2:.3f}")
    left.legend(loc="upper left")
    right.hist(predicted - true, bins=30, alpha=0.7, label="model")
    right.hist(report.train_mean - true, bins=30, alpha=0.5, label="baseline")
    right.set_xlabel("error (predicted - true)")
    right.set_ylabel("examples")
    right.legend()
    return png_bytes(fig)


# report.json and predictions.png; report.html: the errors beside the baseline's, the curves and the scatter.
WRITER = PrintedReport(Figure("predicted against true", SCATTER_PNG), scatter_png)
