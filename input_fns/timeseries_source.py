"""The ``timeseries`` source: windows of a time series in a CSV with a time column, split by time.

As Deep Learning with Python (ch. 10) does it on Jena: the rows are read in
order; the first ``series_split[0]`` of them train, the next validate, the
rest test, and no window crosses a boundary (a window and its target lie in
one part). Each example is ``window_steps`` rows taken every
``sampling_rate``-th row, every numeric column, and its label the target
column ``horizon_steps`` rows after the window's last row, in its own units
(degrees). Windows are made by ``keras.utils.timeseries_dataset_from_array``;
only training windows are shuffled, among themselves.

The values stay raw: the model standardises them with the training part's
mean and standard deviation (``SeriesSpec``) as its first layer and gives the
forecast back in the target's units as its last, so the export takes raw
windows and nothing about validation or test leaks into training.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pandas as pd
import tensorflow as tf

from common.errors import UsageError
from common.params import ROLES, SERIES, TRAIN, DataParams
from input_fns import climate_series, pipeline_ops
from input_fns.pipeline_ops import InputFn, InputRequest, PipelineOptions
from input_fns.source_base import Opened, SourceMeta

WINDOW_INPUT = "window"  # the model's input and the serving signature's
EMBEDDED_DIR = os.path.join(os.path.expanduser("~"), ".cache", "kestrel", "series")
JENA_TIME_FORMAT = climate_series.TIME_FORMAT


@dataclasses.dataclass(frozen=True)
class SeriesSpec:
    """What a window is and how to read it back: the model, the export and scripts.predict share it."""

    columns: tuple[str, ...]  # the window's channels, in order (every numeric column of the CSV)
    target: str
    time_key: str
    window_steps: int
    sampling_rate: int
    horizon_steps: int
    step_seconds: float  # the series' row step
    mean: tuple[float, ...]  # per channel, of the training part
    std: tuple[float, ...]

    @property
    def target_index(self) -> int:
        return self.columns.index(self.target)

    @property
    def window_rows(self) -> int:
        """The rows one window spans, first to last sampled row."""
        return (self.window_steps - 1) * self.sampling_rate + 1

    @property
    def span_rows(self) -> int:
        """The rows one example needs: its window and, ``horizon_steps`` after its last row, the target."""
        return self.window_rows + self.horizon_steps

    @property
    def shape(self) -> tuple[int, int]:
        return self.window_steps, len(self.columns)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, value: dict) -> SeriesSpec:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in value.items()})


@dataclasses.dataclass(frozen=True)
class SeriesData:
    spec: SeriesSpec
    path: str
    parts: dict[str, tuple[np.ndarray, np.ndarray]]  # by role: values [rows, channels] float32, target [rows]
    first_lines: dict[str, int]  # by role: the CSV line of the part's first row (the header is line 1)

    def windows(self, role: str) -> int:
        return len(self.parts[role][0]) - self.spec.span_rows + 1


def series_path(data: DataParams) -> str:
    """The CSV to read: ``--train_files``, else the embedded generated series (materialised once)."""
    if data.validation_files or data.test_files:
        flag = "validation_files" if data.validation_files else "test_files"
        raise UsageError(flag, "--source=timeseries reads one series and splits it by time (--series_split)")
    if not data.train_files:
        return climate_series.materialise(os.path.join(data.data_dir, "series") if data.data_dir else EMBEDDED_DIR)
    if "," in data.train_files:
        raise UsageError("train_files", f"'{data.train_files}': --source=timeseries reads one CSV file")
    return data.train_files


def read_frame(path: str, separator: str, flag: str) -> pd.DataFrame:
    try:
        with tf.io.gfile.GFile(path) as f:
            frame = pd.read_csv(f, sep=separator)
    except (OSError, tf.errors.OpError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise UsageError(flag, f"cannot read '{path}' as a CSV file ({str(err).splitlines()[0]})") from None
    if frame.empty:
        raise UsageError(flag, f"'{path}' holds no rows")
    return frame


def parse_times(frame: pd.DataFrame, time_key: str, path: str, flag: str = "time_key") -> np.ndarray:
    """The time column as datetime64 (Jena's ``01.01.2009 00:10:00`` or ISO 8601); names the first bad line."""
    if time_key not in frame.columns:
        raise UsageError(flag, f"no column '{time_key}' in '{path}'; columns: {list(frame.columns)}")
    text = frame[time_key].astype(str)
    # The format the first row is in holds for every row: a later row that is not in it is the one named.
    times = pd.to_datetime(text, format=JENA_TIME_FORMAT, errors="coerce")
    if pd.isna(times.iloc[0]):
        times = pd.to_datetime(text, errors="coerce")  # ISO 8601 (pandas 1.5 has no format="ISO8601")
    bad = np.flatnonzero(times.isna().to_numpy())
    if len(bad):
        raise UsageError(
            flag,
            f"'{path}' line {bad[0] + 2}: '{time_key}' holds {text.iloc[bad[0]]!r}, not a time; "
            f"allowed: dd.mm.yyyy hh:mm:ss (Jena's) or ISO 8601",
        )
    return times.to_numpy("datetime64[ns]")


def duration(seconds: float) -> str:
    """A step as people write it: 10 min, 1 h, 1.5 h, 2 days."""
    if seconds < 3600:
        return f"{seconds / 60:g} min"
    return f"{seconds / 3600:g} h" if seconds < 2 * 86400 else f"{seconds / 86400:g} days"


def check_steps(times: np.ndarray, time_key: str, path: str, flag: str = "time_key") -> float:
    """The series' step in seconds (its most common one); refuses a time that does not increase, or a gap."""
    if len(times) < 2:
        raise UsageError(flag, f"'{path}' holds {len(times)} row; a series needs at least two")
    steps = np.diff(times).astype("timedelta64[s]").astype(np.int64)
    back = np.flatnonzero(steps <= 0)
    if len(back):
        i = back[0] + 1
        raise UsageError(
            flag,
            f"'{path}' line {i + 2}: '{time_key}' {pd.Timestamp(times[i])} does not come after line {i + 1}'s "
            f"{pd.Timestamp(times[i - 1])}; the rows must be in increasing time",
        )
    values, counts = np.unique(steps, return_counts=True)
    step = int(values[np.argmax(counts)])
    gaps = np.flatnonzero(steps != step)
    if len(gaps):
        i = gaps[0] + 1
        raise UsageError(
            flag,
            f"'{path}' line {i + 2}: a step of {duration(steps[i - 1])} after line {i + 1}, "
            f"where the series steps by {duration(step)}; allowed: one step throughout "
            f"(fill or cut the gap; {len(gaps)} steps differ)",
        )
    return float(step)


def numeric_columns(
    frame: pd.DataFrame, time_key: str, target: str, path: str, flag: str | None = None
) -> dict[str, np.ndarray]:
    """Every column but the time, as float64; the target (``--target_key``) first checked, each bad line named.

    ``flag`` names the flag in the errors (scripts.predict's --rows); by default --target_key or --train_files.
    """
    if target not in frame.columns:
        raise UsageError(flag or "target_key", f"no column '{target}' in '{path}'; columns: {list(frame.columns)}")
    columns = {}
    for name in [target, *(c for c in frame.columns if c not in (time_key, target))]:
        values = pd.to_numeric(frame[name], errors="coerce").to_numpy(np.float64)
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            named, what = ("target_key", "target column") if name == target else ("train_files", "column")
            raise UsageError(
                flag or named,
                f"'{path}' line {bad[0] + 2}: {what} '{name}' holds {frame[name].iloc[bad[0]]!r}, not a number; "
                f"forecasting reads a finite number in every column but '{time_key}' ({len(bad)} rows are not)",
            )
        columns[name] = values
    return {name: columns[name] for name in frame.columns if name in columns}  # the CSV's order


def split_rows(rows: int, fractions: tuple[float, ...]) -> dict[str, tuple[int, int]]:
    """Each role's [start, end) rows, in time order; a zero fraction leaves its role out (test only)."""
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise UsageError("series_split", f"{fractions}; allowed: three fractions (train, validation, test), sum 1")
    if not (fractions[0] > 0 and fractions[1] > 0):
        raise UsageError("series_split", f"{fractions}: training and validation need a part of the series")
    ends = np.round(np.cumsum(fractions) * rows).astype(int)
    starts = [0, *ends[:-1]]
    return {role: (int(s), int(e)) for role, s, e in zip(ROLES, starts, ends, strict=True) if e > s}


def load(data: DataParams) -> SeriesData:
    """Read, check and split the series; the training part's mean and std per column."""
    path = series_path(data)
    frame = read_frame(path, data.csv_separator, "train_files")
    times = parse_times(frame, data.time_key, path)
    step = check_steps(times, data.time_key, path)
    columns = numeric_columns(frame, data.time_key, data.target_key, path)
    values = np.stack(list(columns.values()), axis=1)
    bounds = split_rows(len(values), tuple(data.series_split))
    start, end = bounds[TRAIN]
    mean, std = values[start:end].mean(axis=0), values[start:end].std(axis=0)
    spec = SeriesSpec(
        columns=tuple(columns),
        target=data.target_key,
        time_key=data.time_key,
        window_steps=data.window_steps,
        sampling_rate=data.sampling_rate,
        horizon_steps=data.horizon_steps,
        step_seconds=step,
        mean=tuple(float(m) for m in mean),
        std=tuple(float(s) if s > 0 else 1.0 for s in std),
    )
    for role, (start, end) in bounds.items():
        if end - start < spec.span_rows:
            raise UsageError(
                "window_steps",
                f"a window of {spec.window_steps} steps every {spec.sampling_rate} rows spans {spec.window_rows} rows, "
                f"and --horizon_steps={spec.horizon_steps} more make {spec.span_rows}; the {role} part of '{path}' "
                f"has {end - start} rows (--series_split={','.join(map(str, data.series_split))}); allowed: "
                "a window and horizon that fit in every part",
            )
    target = values[:, spec.target_index].astype(np.float32)
    parts = {role: (values[s:e].astype(np.float32), target[s:e]) for role, (s, e) in bounds.items()}
    return SeriesData(spec, path, parts, {role: s + 2 for role, (s, _) in bounds.items()})


def window_dataset(values: np.ndarray, target: np.ndarray, spec: SeriesSpec, shuffle: bool, seed: int | None):
    """Unbatched (window [steps, channels], target) pairs, window i starting at row i of ``values``."""
    return tf.keras.utils.timeseries_dataset_from_array(
        values[: len(values) - spec.horizon_steps],
        targets=target[spec.window_rows - 1 + spec.horizon_steps :],
        sequence_length=spec.window_steps,
        sampling_rate=spec.sampling_rate,
        batch_size=None,
        shuffle=shuffle,
        seed=seed,
    )


def open(data: DataParams, seed: int | None, options: PipelineOptions) -> Opened:
    """The series' parts by time (train, validation[, test]) and the windows each holds."""
    if data.synthetic:
        raise UsageError("synthetic_data", "not for --source=timeseries (its embedded series needs no download)")
    series = load(data)
    spec, first = series.spec, series.first_lines
    meta = SourceMeta(
        series.path,
        SERIES,
        (),
        {role: series.windows(role) for role in series.parts},
        {
            role: f"lines {first[role]}-{first[role] + len(values) - 1} of {series.path}"
            for role, (values, _) in series.parts.items()
        },
        features=((WINDOW_INPUT, spec.window_steps * len(spec.columns)),),
        train_files=(series.path,),
        gate_format="csv",
        series=spec,
    )

    def factory(role: str, request: InputRequest) -> InputFn:
        return _input_fn(series, role, request, options)

    return meta, factory


def _input_fn(series: SeriesData, role: str, request: InputRequest, options: PipelineOptions) -> InputFn:
    """``({"window": [batch, steps, channels]}, target [batch])``; training windows shuffled, the others in order."""
    values, target = series.parts[role]
    training, shape = request.mode == pipeline_ops.FIT, series.spec.shape

    def build(mode: str, input_context: tf.distribute.InputContext | None) -> tf.data.Dataset:
        ds = window_dataset(values, target, series.spec, shuffle=training, seed=options.seed)
        # Static shapes: the model's input (and the empty-batch padding of predictions) need them.
        ds = ds.map(lambda window, label: ({WINDOW_INPUT: tf.ensure_shape(window, shape)}, label))
        return pipeline_ops.finish(ds, mode, request.batch_size, options, input_context)

    return pipeline_ops.estimator_input_fn(build, request.mode)
