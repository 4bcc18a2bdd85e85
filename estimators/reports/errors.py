"""A model's errors beside a baseline's: the figures the regression and forecast reports both show, and the gain.

A baseline is what a model that learnt nothing would predict (the training mean,
the value at the window's last row): the model's error means little without it.
"""

from __future__ import annotations

import numpy as np


def as_float64(values) -> np.ndarray:
    """Any array-like of numbers, flat, as float64: the errors are computed in double precision."""
    return np.asarray(values, np.float64).reshape(-1)


def errors_beside_baseline(predicted: np.ndarray, labels: np.ndarray, baseline) -> dict[str, float]:
    """mae and rmse of ``predicted`` and of ``baseline`` (an array, or one value for every example)."""
    errors, naive = predicted - labels, baseline - labels
    return {
        "mae": float(np.mean(np.abs(errors))),
        "rmse": float(np.sqrt(np.mean(errors**2))),
        "baseline_mae": float(np.mean(np.abs(naive))),
        "baseline_rmse": float(np.sqrt(np.mean(naive**2))),
    }


class ErrorMetrics:
    """What the reports of errors beside a baseline (fields ``mae`` and ``rmse``: regression, forecast) give the
    run's summary."""

    def metrics(self) -> dict[str, float]:
        """The task's metrics as the engines name them (common.tasks): mae, and the loss (mean squared error)."""
        return {"mae": self.mae, "loss": self.rmse**2}


def gain_over_baseline(figure: float, baseline: float) -> float:
    """The share of the baseline's ``figure`` (an error, a distance, a perplexity: lower is better) the model
    removes: 0.25 is a quarter lower, a negative share is worse; 0 when the baseline's is 0 (nothing to remove)."""
    return 1 - figure / baseline if baseline else 0.0


def as_floats(values: np.ndarray) -> tuple[float, ...]:
    """Values as Python floats, as report.json holds them."""
    return tuple(float(v) for v in values)
