"""Predict rows of a CSV file with an exported tabular SavedModel: a value (regression) or a class per row.

The export takes every feature raw, as recorded (its graph standardises them
with the training rows' statistics), one float input per feature name. The
CSV names its columns; every input must be among them. Other columns (the
target, an id) are not read, and are named once on stderr.

A forecasting export (its assets.extra/series.json) reads the CSV as a series:
consecutive rows at the training series' step, with its time column and every
column the window takes. Each row that ends a full window (window_rows rows
back) gets the forecast for ``horizon_steps`` rows after it; the earlier rows
get none (the first forecast is on line window_rows + 1).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json

import numpy as np
import pandas as pd
import tensorflow as tf

from common.errors import UsageError
from estimators.serving import predict
from estimators.serving import receivers as serving
from input_fns import timeseries_source
from input_fns.csv_source import feature_name
from input_fns.timeseries_source import SeriesSpec


@dataclasses.dataclass(frozen=True)
class RowPrediction:
    row: int  # the CSV line (the header is line 1)
    value: float | None  # regression
    class_name: str | None = None  # classification
    probability: float | None = None


@dataclasses.dataclass(frozen=True)
class Forecast:
    row: int  # the CSV line of the window's last row (the header is line 1)
    time: str  # that row's time
    target_time: str  # the time the forecast is for: horizon_steps rows later
    value: float  # in the target's units


def load_signature(export_dir: str):
    signature = predict.export_signature(export_dir)
    inputs = signature.structured_input_signature[1]
    if serving.BYTES_INPUT in inputs:
        raise UsageError("rows", f"'{export_dir}' takes images; pass them with --images")
    return signature, {name: spec.shape[-1] for name, spec in inputs.items()}


def read_rows(path: str, inputs: dict[str, int], separator: str = ",") -> tuple[dict[str, np.ndarray], list[str]]:
    """The inputs' columns as float32 [rows, 1] arrays, and the columns not read."""
    try:
        with tf.io.gfile.GFile(path) as f:
            frame = pd.read_csv(f, sep=separator)
    except (OSError, tf.errors.OpError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise UsageError("rows", f"cannot read '{path}' as a CSV file ({str(err).splitlines()[0]})") from None
    frame.columns = [feature_name(str(c)) for c in frame.columns]
    missing = [name for name in inputs if name not in frame.columns]
    if missing:
        raise UsageError("rows", f"'{path}' lacks the columns {missing} the model takes; it has {list(frame.columns)}")
    if frame.empty:
        raise UsageError("rows", f"'{path}' holds no rows")
    features = {}
    for name in inputs:
        values = pd.to_numeric(frame[name], errors="coerce").to_numpy(np.float64)
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            raise UsageError(
                "rows",
                f"'{path}' line {int(bad[0]) + 2}: column '{name}' holds {frame[name].iloc[bad[0]]!r}, not a number",
            )
        features[name] = values.astype(np.float32).reshape(-1, 1)
    return features, [c for c in frame.columns if c not in inputs]


def series_windows(path: str, series: SeriesSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """(windows [n, steps, columns], their last rows' indices, every row's time, columns not read) of a CSV."""
    frame = timeseries_source.read_frame(path, ",", "rows")
    times = timeseries_source.parse_times(frame, series.time_key, path, flag="rows")
    step = timeseries_source.check_steps(times, series.time_key, path, flag="rows") if len(times) > 1 else None
    if step is not None and step != series.step_seconds:
        raise UsageError(
            "rows",
            f"'{path}' steps by {timeseries_source.duration(step)}; the model was trained on a series stepping by "
            f"{timeseries_source.duration(series.step_seconds)}",
        )
    missing = [c for c in series.columns if c not in frame.columns]
    if missing:
        raise UsageError("rows", f"'{path}' lacks the columns {missing} the model takes; it has {list(frame.columns)}")
    columns = timeseries_source.numeric_columns(
        frame[[series.time_key, *series.columns]], series.time_key, series.target, path, flag="rows"
    )
    if len(frame) < series.window_rows:
        raise UsageError(
            "rows",
            f"'{path}' holds {len(frame)} rows; a window of {series.window_steps} steps every "
            f"{series.sampling_rate} rows spans {series.window_rows} consecutive rows, the least a forecast needs",
        )
    values = np.stack([columns[c] for c in series.columns], axis=1).astype(np.float32)
    ends = np.arange(series.window_rows - 1, len(values))
    offsets = (np.arange(series.window_steps) - (series.window_steps - 1)) * series.sampling_rate
    unused = [c for c in frame.columns if c not in (series.time_key, *series.columns)]
    return values[ends[:, None] + offsets[None, :]], ends, times, unused


def predict_series(
    export_dir: str, path: str, series: SeriesSpec, batch_size: int = 256
) -> tuple[list[Forecast], list[str]]:
    """The forecast after each row that ends a full window."""
    signature = predict.export_signature(export_dir)
    windows, ends, times, unused = series_windows(path, series)
    step = pd.Timedelta(seconds=series.step_seconds)
    values = np.concatenate(
        [
            signature(**{timeseries_source.WINDOW_INPUT: tf.constant(windows[i : i + batch_size])})["forecast"].numpy()
            for i in range(0, len(windows), batch_size)
        ]
    )
    return [
        Forecast(
            int(end) + 2,
            str(pd.Timestamp(times[end])),
            str(pd.Timestamp(times[end]) + series.horizon_steps * step),
            float(value),
        )
        for end, value in zip(ends, values, strict=True)
    ], unused


def predict_rows(export_dir: str, path: str, batch_size: int = 256) -> tuple[list, list[str]]:
    """Each row's prediction (a tabular export) or each full window's forecast (a forecasting export)."""
    signature, inputs = load_signature(export_dir)
    series = serving.read_series(export_dir)
    if series is not None:
        return predict_series(export_dir, path, series, batch_size)
    features, unused = read_rows(path, inputs)
    count = len(next(iter(features.values())))
    results: list[RowPrediction] = []
    for start in range(0, count, batch_size):
        batch = {name: tf.constant(values[start : start + batch_size]) for name, values in features.items()}
        out = signature(**batch)
        lines = range(start + 2, start + 2 + len(next(iter(batch.values()))))
        if "predictions" in out:
            results += [
                RowPrediction(line, float(v)) for line, v in zip(lines, out["predictions"].numpy(), strict=True)
            ]
        else:
            names, probabilities = out["class_names"].numpy(), out["probabilities"].numpy()
            results += [
                RowPrediction(line, None, name.decode(), float(p.max()))
                for line, name, p in zip(lines, names, probabilities, strict=True)
            ]
    return results, unused


def format_rows(predictions: list[RowPrediction] | list[Forecast], fmt: str) -> str:
    regression = isinstance(predictions[0], RowPrediction) and predictions[0].value is not None
    fields = ("line", "prediction") if regression else ("line", "class", "probability")
    if isinstance(predictions[0], Forecast):
        fields = ("line", "time", "forecast_for", "forecast")

    def values(p: RowPrediction | Forecast) -> tuple:
        if isinstance(p, Forecast):
            return p.row, p.time, p.target_time, round(p.value, 6)
        return (p.row, round(p.value, 6)) if regression else (p.row, p.class_name, round(p.probability, 6))

    if fmt == "json":
        return json.dumps([dict(zip(fields, values(p), strict=True)) for p in predictions], indent=2)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(fields)
        writer.writerows(values(p) for p in predictions)
        return buffer.getvalue().rstrip("\n")
    if fmt != "table":
        raise UsageError("format", f"unknown format '{fmt}'; allowed: {', '.join(predict.FORMATS)}")
    rows = [fields, *(tuple(f"{v:.4f}" if isinstance(v, float) else str(v) for v in values(p)) for p in predictions)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(fields))]
    return "\n".join("  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in rows)
