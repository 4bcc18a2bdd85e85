"""The ``csv`` source: CSV files of tabular data, such as the wine-quality CSV (``;``-separated).

The files are read once, in memory (tabular data of this kind is small),
split, and standardised with the mean and standard deviation of the
training rows only, so nothing about the evaluation rows leaks into
training. Feature names are the column names made safe for Keras inputs
and feature columns (``fixed acidity`` -> ``fixed_acidity``).
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd
import tensorflow as tf

from common import tasks
from common.errors import UsageError
from common.params import FEATURES, TEST, TRAIN, VALIDATION, DataParams
from common.tasks import VALUES
from input_fns import array_source, text_csv
from input_fns.pipeline_ops import DEFAULT_OPTIONS, InputFn, InputRequest, PipelineOptions
from input_fns.source_base import Opened, SourceMeta, class_names, described, labels_read, role_files
from input_fns.tfrecord_source import resolve_files


@dataclasses.dataclass(frozen=True)
class Standardizer:
    """Per numeric feature mean and standard deviation, from the training rows."""

    mean: dict[str, float]
    std: dict[str, float]

    def apply(self, column: str, values: np.ndarray) -> np.ndarray:
        return ((values - self.mean[column]) / self.std[column]).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class CsvData:
    """Each role's rows as feature arrays ([N, 1] per column) and labels: class indices, or
    (regression: ``class_names`` empty) the target's float32 values."""

    feature_names: tuple[str, ...]
    numeric: tuple[str, ...]
    class_names: tuple[str, ...]
    splits: dict[str, tuple[dict[str, np.ndarray], np.ndarray]]  # by role: train, validation[, test]
    standardizer: Standardizer

    @property
    def scaling(self) -> tuple[tuple[str, float, float], ...]:
        """(feature name, mean, std) of each numeric column, keyed as the input_fns and the export name them."""
        by_column = {feature_name(c): c for c in self.standardizer.mean}
        return tuple(
            (name, self.standardizer.mean[by_column[name]], self.standardizer.std[by_column[name]])
            for name in self.numeric
            if name in by_column
        )


def feature_name(column: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", column.strip())


def read_csv(patterns: str, separator: str, label_key: str, flag: str, numeric_label: bool = False) -> pd.DataFrame:
    frames = []
    for path in resolve_files(patterns, flag):
        try:
            with tf.io.gfile.GFile(path) as f:
                frames.append(pd.read_csv(f, sep=separator))
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
            raise UsageError(flag, f"'{path}' is not a CSV file with separator '{separator}' ({err})") from None
        if label_key not in frames[-1].columns:
            columns = list(frames[-1].columns)
            hint = " (is --csv_separator right?)" if len(columns) == 1 else ""
            raise UsageError("label_key", f"no column '{label_key}' in '{path}'; columns: {columns}{hint}")
        if numeric_label:
            check_numeric_target(frames[-1][label_key], path, label_key)
    data = pd.concat(frames, ignore_index=True)
    if data.empty:
        raise UsageError(flag, f"'{patterns}' holds no rows")
    return data


def check_numeric_target(column: pd.Series, path: str, label_key: str) -> None:
    """Regression's target: a number on every row (the first row that is not, named as the file's line)."""
    values = pd.to_numeric(column, errors="coerce")
    bad = np.flatnonzero(~np.isfinite(values.to_numpy(np.float64)))
    if len(bad):
        row = int(bad[0])
        raise UsageError(
            "label_key",
            f"'{path}' line {row + 2}: target column '{label_key}' holds {column.iloc[row]!r}, not a number; "
            f"--task=regression needs a finite number on every row ({len(bad)} rows are not)",
        )


def load(
    train_files: str,
    validation_files: str | None = None,
    test_files: str | None = None,
    separator: str = ",",
    label_key: str = "label",
    val_fraction: float = 0.2,
    seed: int = 0,
    regression: bool = False,
) -> CsvData:
    """Read the roles (validation from ``validation_files`` or a seeded fraction of the training rows),
    encode labels (or, for regression, read the numeric target) and standardise with the training
    rows' statistics."""
    frames = {TRAIN: read_csv(train_files, separator, label_key, "train_files", regression)}
    if validation_files:
        frames[VALIDATION] = read_csv(validation_files, separator, label_key, "validation_files", regression)
    else:
        frames[TRAIN], frames[VALIDATION] = _carve(frames[TRAIN], val_fraction, seed)
    if test_files:
        frames[TEST] = read_csv(test_files, separator, label_key, "test_files", regression)
    columns = [c for c in frames[TRAIN].columns if c != label_key]
    for role, frame in frames.items():
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise UsageError(f"{role}_files", f"columns {missing} of the training CSV are missing")
    train = frames[TRAIN]
    numeric = [c for c in columns if pd.api.types.is_numeric_dtype(train[c])]
    mean = {c: float(train[c].mean()) for c in numeric}
    std = {c: float(train[c].std(ddof=0)) or 1.0 for c in numeric}
    standardizer = Standardizer(mean, std)
    class_values = [] if regression else sorted(set().union(*(set(f[label_key].tolist()) for f in frames.values())))
    index = {value: i for i, value in enumerate(class_values)}

    def targets(frame: pd.DataFrame) -> np.ndarray:
        if regression:
            return pd.to_numeric(frame[label_key]).to_numpy(np.float32)
        return np.array([index[v] for v in frame[label_key].tolist()], np.int64)

    def arrays(frame: pd.DataFrame) -> tuple[dict[str, np.ndarray], np.ndarray]:
        features = {}
        for c in columns:
            if c in numeric:
                values = standardizer.apply(c, frame[c].to_numpy(np.float64))
            else:
                values = frame[c].astype(str).to_numpy(object)
            features[feature_name(c)] = values.reshape(-1, 1)
        return features, targets(frame)

    return CsvData(
        feature_names=tuple(feature_name(c) for c in columns),
        numeric=tuple(feature_name(c) for c in numeric),
        class_names=tuple(str(v) for v in class_values),
        splits={role: arrays(frame) for role, frame in frames.items()},
        standardizer=standardizer,
    )


def _carve(rows: pd.DataFrame, val_fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    if not 0.0 < val_fraction < 1.0:
        raise UsageError("val_fraction", f"{val_fraction}; must be between 0 and 1 (or pass --validation_files)")
    order = np.random.default_rng(seed).permutation(len(rows))
    cut = int(round(len(rows) * val_fraction))
    train, validation = rows.iloc[order[cut:]], rows.iloc[order[:cut]]
    if train.empty or validation.empty:
        raise UsageError("val_fraction", f"a split is empty ({len(train)} training, {len(validation)} validation rows)")
    return train, validation


def open(data: DataParams, seed: int | None, options: PipelineOptions) -> Opened:
    """The rows of each role in memory, standardised on the training rows; labels are classes or values."""
    if not data.train_files:
        raise UsageError("train_files", "not set; the csv source reads its training rows from it")
    if tasks.get(data.task).reads_text:
        return text_csv.open_csv(data, seed, options)
    values = labels_read(data) == VALUES
    table = load(
        data.train_files,
        data.validation_files,
        data.test_files,
        data.csv_separator,
        data.label_key,
        data.val_fraction,
        seed or 0,
        regression=values,
    )
    text = [name for name in table.feature_names if name not in table.numeric]
    if text:
        raise UsageError("train_files", f"columns {text} are not numeric; kestrel's tabular models read numbers")
    meta = SourceMeta(
        data.train_files,
        FEATURES,
        table.class_names if values else class_names(data.class_names, len(table.class_names) - 1, table.class_names),
        {role: len(labels) for role, (_, labels) in table.splits.items()},
        described(table.splits, role_files(data), data),
        features=tuple((name, 1) for name in table.feature_names),
        train_files=tuple(p for p in data.train_files.split(",") if p),
        gate_format="csv",
        scaling=table.scaling,
    )

    def factory(role: str, request: InputRequest) -> InputFn:
        return input_fn(table, role, request, options)

    return meta, factory


def input_fn(
    data: CsvData,
    role: str,
    request: InputRequest,
    options: PipelineOptions = DEFAULT_OPTIONS,
) -> InputFn:
    """``({feature: [batch, 1]}, labels)``, or with ``request.input_name`` every numeric feature as one [batch, k]
    input."""
    features, labels = data.splits[role]
    if request.input_name is not None:
        text = [name for name in data.feature_names if name not in data.numeric]
        if text:
            raise UsageError("input_name", f"non-numeric columns {text} cannot go into one numeric input")
        features = np.concatenate([features[name] for name in data.numeric], axis=1)
    return array_source.input_fn(features, labels, request, options)
