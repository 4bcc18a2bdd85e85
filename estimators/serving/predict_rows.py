"""Predict rows of a CSV file with an exported tabular SavedModel: a value (regression) or a class per row.

The export takes every feature raw, as recorded (its graph standardises them
with the training rows' statistics), one float input per feature name. The
CSV names its columns; every input must be among them. Other columns (the
target, an id) are not read, and are named once on stderr.
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
from input_fns.csv_source import feature_name


@dataclasses.dataclass(frozen=True)
class RowPrediction:
    row: int  # the CSV line (the header is line 1)
    value: float | None  # regression
    class_name: str | None = None  # classification
    probability: float | None = None


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


def predict_rows(export_dir: str, path: str, batch_size: int = 256) -> tuple[list[RowPrediction], list[str]]:
    signature, inputs = load_signature(export_dir)
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


def format_rows(predictions: list[RowPrediction], fmt: str) -> str:
    regression = predictions[0].value is not None
    fields = ("line", "prediction") if regression else ("line", "class", "probability")

    def values(p: RowPrediction) -> tuple:
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
