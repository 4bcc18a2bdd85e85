"""The evaluation report of a forecast: the model's error beside the common-sense forecast's, a PNG, report.html.

The common-sense forecast (Deep Learning with Python ch. 10) says the target
will be what it is at the window's last row. On a climate series that is
hard to beat (the daily cycle repeats, the weather changes slowly): a model
that does not beat it has learnt nothing, however small its error looks.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from estimators.reports.errors import ErrorMetrics, as_float64, as_floats, errors_beside_baseline, gain_over_baseline
from estimators.reports.page import Figure, PrintedReport, png_bytes, pyplot
from input_fns.timeseries_source import WINDOW_INPUT, SeriesSpec

FORECASTS_PNG = "forecasts.png"
PLOTTED_HOURS = 14 * 24  # the stretch of the report's data the PNG shows


@dataclasses.dataclass(frozen=True)
class ForecastReport(ErrorMetrics):
    split: str
    examples: int
    target: str
    horizon_hours: float
    step_hours: float  # between consecutive windows (one row of the series)
    mae: float
    rmse: float
    baseline_mae: float  # the common-sense forecast: the target at the window's last row
    baseline_rmse: float
    true: tuple[float, ...]
    predicted: tuple[float, ...]
    baseline: tuple[float, ...]

    def format(self) -> str:
        gain = gain_over_baseline(self.mae, self.baseline_mae)
        return "\n".join(
            [
                f"evaluation on '{self.split}': mae {self.mae:.4f} over {self.examples} windows "
                f"(common-sense baseline {self.baseline_mae:.4f}: {gain:+.1%}), "
                f"{self.target} {self.horizon_hours:g} h ahead",
                f"rmse {self.rmse:.4f} (baseline {self.baseline_rmse:.4f})",
            ]
        )


def collect_baseline(input_fn, series: SeriesSpec) -> np.ndarray:
    """The target at each window's last row, in the input_fn's order (an EVAL input_fn: the report's)."""
    index = series.target_index
    return np.concatenate([f[WINDOW_INPUT][:, -1, index].numpy() for f, _ in input_fn()])


def build_report(
    predicted: np.ndarray, labels: np.ndarray, baseline: np.ndarray, series: SeriesSpec, split: str
) -> ForecastReport:
    predicted, labels, baseline = (as_float64(a) for a in (predicted, labels, baseline))
    step_hours = series.step_seconds / 3600
    return ForecastReport(
        split=split,
        examples=len(labels),
        target=series.target,
        horizon_hours=series.horizon_steps * step_hours,
        step_hours=step_hours,
        **errors_beside_baseline(predicted, labels, baseline),
        true=as_floats(labels),
        predicted=as_floats(predicted),
        baseline=as_floats(baseline),
    )


def forecasts_png(report: ForecastReport) -> bytes:
    """The first PLOTTED_HOURS of the report's windows: truth, the model's forecast, the common-sense one."""
    plt = pyplot()
    count = min(report.examples, max(1, int(PLOTTED_HOURS / report.step_hours)))
    hours = np.arange(count) * report.step_hours + report.horizon_hours
    fig, ax = plt.subplots(figsize=(11, 4.5))
    ax.plot(hours, report.true[:count], color="black", linewidth=1.2, label="true")
    ax.plot(hours, report.predicted[:count], color="tab:blue", linewidth=1, label=f"model (mae {report.mae:.3f})")
    ax.plot(
        hours,
        report.baseline[:count],
        color="tab:red",
        linestyle="--",
        linewidth=1,
        label=f"common sense (mae {report.baseline_mae:.3f})",
    )
    role = report.split.split(":")[0]  # the split's label without the file it names
    ax.set_xlabel(f"hours after the first {role} window ends")
    ax.set_ylabel(report.target)
    ax.set_title(f"{report.target}, {report.horizon_hours:g} h ahead: the first {count} {role} windows")
    ax.legend(loc="upper left")
    return png_bytes(fig)


# report.json and forecasts.png; report.html: the errors beside the common-sense forecast's, the curves and the forecasts.
WRITER = PrintedReport(Figure("forecasts", FORECASTS_PNG, height=420), forecasts_png)
