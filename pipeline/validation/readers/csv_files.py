"""The "csv" format: globs of CSV/TSV files (gzipped or not) sharing one header line.

Column types come from the data (INT < FLOAT < STRING, as tfx_bsl's CSV decoder
orders them), inferred in Arrow batch by batch; a line with the wrong number of
fields is a bad record quoting it.
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterable, Iterator

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import tensorflow as tf

from common.errors import UsageError
from pipeline.validation.readers import base
from pipeline.validation.readers.base import BAD, RECORD_BATCH_SIZE, InputSpec, Read, ReadOptions, Request

FORMAT = "csv"
CSV_EXTENSIONS = (".csv", ".csv.gz", ".tsv", ".tsv.gz")
# A line whose fields do not parse or do not match the header's count, as the report names it.
MALFORMED_CSV_LINE = "malformed_csv_line"


def claims(path: str) -> bool:
    return path.lower().endswith(CSV_EXTENSIONS)


def _first_line(path: str) -> str:
    with tf.io.gfile.GFile(path, "rb") as raw:
        if path.lower().endswith(".gz"):
            with gzip.GzipFile(fileobj=raw) as unzipped:
                return unzipped.readline().decode("utf-8")
        return raw.readline().decode("utf-8")


def _csv_columns(files: tuple[str, ...], delimiter: str, flag: str) -> tuple[str, ...]:
    """The header every CSV file shares; files without a header line hold no rows."""
    header: list[str] | None = None
    for path in files:
        try:
            first = _first_line(path)
        except (tf.errors.OpError, OSError, UnicodeDecodeError) as err:
            raise UsageError(flag, f"cannot read the header of '{path}' ({err})") from None
        if not first.strip():
            continue
        columns = next(csv.reader([first], delimiter=delimiter))
        columns = [c.strip() for c in columns]
        if header is None:
            if len(set(columns)) != len(columns) or not all(columns):
                raise UsageError(flag, f"'{path}' has a header with empty or repeated column names: {columns}")
            header = columns
        elif columns != header:
            raise UsageError(flag, f"'{path}' has header {columns}, unlike {header} in '{files[0]}'")
    if header is None:
        raise UsageError(flag, f"the {len(files)} CSV file(s) matched are empty (zero rows)")
    return tuple(header)


def _resolve(request: Request, files: tuple[str, ...]) -> InputSpec:
    columns = _csv_columns(files, request.delimiter, request.flag)
    return InputSpec(request.role, request.flag, FORMAT, request.patterns, files, csv_columns=columns)


class _ParseCsvLines(beam.DoFn):
    """A CSV line -> (cells as bytes, line), or a bad record when the column count is wrong."""

    def __init__(self, num_columns: int, delimiter: str):
        self._num_columns = num_columns
        self._delimiter = delimiter

    def setup(self) -> None:
        self._bad_counter = beam.metrics.Metrics.counter("kestrel_validation", MALFORMED_CSV_LINE)

    def process(self, line: str) -> Iterator:
        if line.strip():  # blank lines are not rows
            yield from self._parse(line)

    def _parse(self, line: str) -> Iterator:
        try:
            cells = next(csv.reader([line], delimiter=self._delimiter, strict=True))
            problem = None if len(cells) == self._num_columns else f"{len(cells)} fields, expected {self._num_columns}"
        except csv.Error as err:
            cells, problem = None, str(err)
        if problem is None:
            yield cells
        else:
            self._bad_counter.inc()
            yield beam.pvalue.TaggedOutput(BAD, base.bad(MALFORMED_CSV_LINE, f"{problem}: {line}"))


# CSV column types, widest wins: INT < FLOAT < STRING (as tfx_bsl's CSV decoder orders them).
_UNKNOWN, _INT, _FLOAT, _STRING = range(4)


def _csv_column(rows: list[list[str]], j: int) -> pa.Array:
    """Column ``j`` of a batch of rows as strings, an empty cell as null."""
    return pa.array([row[j] or None for row in rows], type=pa.string())


def _column_type(column: pa.Array) -> int:
    values = pc.utf8_trim_whitespace(column.drop_null())
    if len(values) == 0:
        return _UNKNOWN
    for kind, arrow_type in ((_INT, pa.int64()), (_FLOAT, pa.float64())):
        try:
            pc.cast(values, arrow_type)
            return kind
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    return _STRING


class _InferCsvTypes(beam.CombineFn):
    """The type of every CSV column over all rows, batch by batch in Arrow (no per-cell Python)."""

    def __init__(self, num_columns: int):
        self._num_columns = num_columns

    def create_accumulator(self) -> list[int]:
        return [_UNKNOWN] * self._num_columns

    def add_input(self, acc: list[int], rows: list[list[str]]) -> list[int]:
        return [max(kind, _column_type(_csv_column(rows, j))) for j, kind in enumerate(acc)]

    def merge_accumulators(self, accs: Iterable[list[int]]) -> list[int]:
        return [max(kinds) for kinds in zip(*accs, strict=True)]

    def extract_output(self, acc: list[int]) -> list[int]:
        return acc


def _as_list_array(column: pa.Array, kind: int) -> pa.Array:
    """One value per row as list<int64|float32|binary>, an empty cell as a missing value."""
    if kind == _UNKNOWN:
        return pa.nulls(len(column))
    valid = column.is_valid().to_numpy(zero_copy_only=False)
    offsets = np.zeros(len(column) + 1, dtype=np.int64)
    np.cumsum(valid, out=offsets[1:])
    offsets = pa.array(offsets, mask=np.append(~valid, False))
    values = column.drop_null()
    if kind == _STRING:
        values = values.cast(pa.large_binary())
    else:
        arrow_type = pa.int64() if kind == _INT else pa.float32()
        values = pc.cast(pc.utf8_trim_whitespace(values), arrow_type)
    return pa.LargeListArray.from_arrays(offsets, values)


class _CsvRowsToRecordBatch(beam.DoFn):
    def __init__(self, columns: tuple[str, ...]):
        self._columns = list(columns)

    def process(self, rows: list[list[str]], kinds: list[int]) -> Iterator[pa.RecordBatch]:
        arrays = [_as_list_array(_csv_column(rows, j), kind) for j, kind in enumerate(kinds)]
        yield pa.RecordBatch.from_arrays(arrays, self._columns)


def _read_lines(pipeline: beam.Pipeline, spec: InputSpec, label: str) -> beam.PCollection:
    reads = [
        pipeline | f"{label}{i}" >> beam.io.ReadFromText(pattern, skip_header_lines=1)
        for i, pattern in enumerate(spec.patterns)
    ]
    return reads | f"{label}Flatten" >> beam.Flatten()


def _read(pipeline: beam.Pipeline, spec: InputSpec, options: ReadOptions) -> Read:
    """The record batches of every file's rows, and the malformed lines found."""
    step = base.step_name(spec)
    parse = _ParseCsvLines(len(spec.csv_columns), options.delimiter)
    batch = beam.BatchElements(min_batch_size=RECORD_BATCH_SIZE, max_batch_size=RECORD_BATCH_SIZE)
    # Types come from the data (INT < FLOAT < STRING), never from the schema: a column that
    # turned into strings must show up as a type anomaly, not as a crash or a dropped row.
    # The files are read twice, once for the types and once for the rows: a side input
    # computed from the rows themselves would hold every parsed row in memory until then.
    typed = _read_lines(pipeline, spec, f"{step}TypesRead") | f"{step}TypesParse" >> beam.ParDo(parse).with_outputs(
        BAD, main="rows"
    )
    kinds = beam.pvalue.AsSingleton(
        typed.rows
        | f"{step}TypesBatch" >> batch
        | f"{step}InferColumnTypes" >> beam.CombineGlobally(_InferCsvTypes(len(spec.csv_columns)))
    )
    parsed = _read_lines(pipeline, spec, f"{step}Read") | f"{step}ParseCsv" >> beam.ParDo(parse).with_outputs(
        BAD, main="rows"
    )
    batches = (
        parsed.rows
        | f"{step}BatchRows" >> batch
        | f"{step}RowsToArrow" >> beam.ParDo(_CsvRowsToRecordBatch(spec.csv_columns), kinds)
    )
    return batches, [parsed[BAD]]


def _head_rows(head: bytes) -> int:
    """The lines less the header in the head of a file."""
    return max(head.count(b"\n") - 1, 0)


_sample_rows = base.head_sample(_head_rows)
READER = base.file_reader(FORMAT, claims, _resolve, _read, _sample_rows)
