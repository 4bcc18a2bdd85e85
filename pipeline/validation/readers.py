"""Inputs of the validation job: TFRecord, CSV and image folders, as Arrow record batches.

``resolve_input`` checks what a user named before any Beam work starts (a
glob matching no file is a usage error); ``read_record_batches`` adds the
Beam read and decode steps for one input to a pipeline and returns two
PCollections: the record batches TFDV takes, and the records that could not
be decoded (malformed CSV lines, unparseable protos, unusable image files,
corrupt TFRecord files). Bad records are counted and sampled, never dropped
silently. An image file is judged by ``input_fns.image_folder.classify_image_file``,
the trainer's own check: a file the gate passes, the trainer reads.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import math
import os
import struct
import time
from collections.abc import Iterable, Iterator

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import tensorflow as tf
from tfx_bsl.coders import example_coder

from common.errors import UsageError
from common.files import IMAGE_EXTENSIONS, list_files
from common.progress import ProgressLine
from input_fns import image_folder

IMAGE_FEATURE = "image"
FILE_NAME_FEATURE = "file_name"
CSV_EXTENSIONS = (".csv", ".csv.gz", ".tsv", ".tsv.gz")

# Bad-record kinds, as they appear in the report.
MALFORMED_CSV_LINE = "malformed_csv_line"
UNPARSEABLE_RECORD = "unparseable_record"
# A TFRecord file whose framing or CRC breaks (torn, truncated, overwritten): the records after
# the damage cannot be read, nor counted. Image files are counted by image_folder's kinds
# ("zero bytes", "truncated JPEG", "unsupported format .webp", ...).
CORRUPT_TFRECORD_FILE = "corrupt_tfrecord_file"

_BAD = "bad"
_SAMPLE_CHARS = 160
# Larger batches amortize TFDV's per-batch, per-feature Python work: 4096 took ~15% less CPU than 1000.
RECORD_BATCH_SIZE = 4096
IMAGE_BATCH_SIZE = 100
# A TFRecord record on disk: length (8 bytes), its CRC (4), the data, the data's CRC (4).
_FRAMING_BYTES = 16
# The progress line's total is estimated from this much of the first file (rows per byte).
_SAMPLE_BYTES = 1 << 20


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """One input, checked: its format and what it matched."""

    role: str  # "data" or "serving": names the Beam steps and the artifacts
    flag: str  # the flag that named it, for error messages
    format: str
    patterns: tuple[str, ...]
    files: tuple[str, ...]
    csv_columns: tuple[str, ...] = ()
    # Image folders: the class folder of each file in ``files`` (every file but hidden ones).
    image_labels: tuple[str, ...] = ()
    hidden_files: tuple[str, ...] = ()  # image folders: .DS_Store and friends, named and not read
    # Image folders: entries never opened (a FIFO, a name that is not UTF-8), as (shown path, reason):
    # bad records, counted with the files that do not decode.
    skipped_files: tuple[tuple[str, str], ...] = ()
    # TFRecord files: (file, skip, take) when only part of each is read (a sliced TFDS split); () reads all.
    ranges: tuple[tuple[str, int, int], ...] = ()

    @property
    def num_bytes(self) -> int:
        return sum(_size(f) for f in self.files)


def _size(path: str) -> int:
    try:
        return tf.io.gfile.stat(path).length
    except tf.errors.OpError:
        return 0


def _format_of(path: str) -> str:
    lower = path.lower()
    if lower.endswith(CSV_EXTENSIONS):
        return "csv"
    return "tfrecord"


def resolve_input(
    patterns: Iterable[str],
    data_format: str,
    *,
    role: str,
    flag: str,
    delimiter: str,
    ranges: tuple[tuple[str, int, int], ...] = (),
) -> InputSpec:
    """Expand the globs, pick the format and check the inputs are usable, before Beam starts.

    ``ranges`` ((file, skip, take), TFRecord files only) reads a slice of each file's records.
    """
    patterns = tuple(p for p in patterns if p)
    if not patterns:
        raise UsageError(flag, "no input given")
    if data_format == "images" or (data_format == "auto" and all(tf.io.gfile.isdir(p) for p in patterns)):
        return _resolve_image_folders(patterns, role=role, flag=flag)
    files: list[str] = []
    for pattern in patterns:
        if tf.io.gfile.isdir(pattern):
            raise UsageError(flag, f"'{pattern}' is a directory; give a glob of files, or --data_format=images")
        try:
            matched = sorted(tf.io.gfile.glob(pattern))
        except tf.errors.OpError as err:
            raise UsageError(flag, f"cannot list '{pattern}' ({err.message.strip()})") from None
        matched = [m for m in matched if not tf.io.gfile.isdir(m)]
        if not matched:
            raise UsageError(flag, f"'{pattern}' matches no file")
        files.extend(matched)
    fmt = data_format
    if fmt == "auto":
        kinds = {_format_of(f) for f in files}
        if len(kinds) > 1:
            raise UsageError(flag, "the inputs mix CSV and other files; set --data_format")
        fmt = kinds.pop()
    if fmt == "csv":
        columns = _csv_columns(files, delimiter, flag)
        return InputSpec(role, flag, fmt, patterns, tuple(files), csv_columns=columns)
    return InputSpec(role, flag, fmt, patterns, tuple(files), ranges=ranges)


def tfds_split_pattern(builder, split: str) -> str:
    """The glob of a prepared TFDS split's TFRecord files (tf.Example), to validate what training reads.

    ``builder`` is a prepared ``tfds.core.DatasetBuilder``; TFDS names its files
    ``<data_dir>/<name>-<split>.tfrecord-00000-of-0000N``.
    """
    return os.path.join(str(builder.data_dir), f"{builder.name}-{split}.tfrecord*")


def _first_line(path: str) -> str:
    with tf.io.gfile.GFile(path, "rb") as raw:
        if path.lower().endswith(".gz"):
            with gzip.GzipFile(fileobj=raw) as unzipped:
                return unzipped.readline().decode("utf-8")
        return raw.readline().decode("utf-8")


def _csv_columns(files: list[str], delimiter: str, flag: str) -> tuple[str, ...]:
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


def _resolve_image_folders(patterns: tuple[str, ...], *, role: str, flag: str) -> InputSpec:
    """root/<class>/<file>: the class folder is the label; every file is read or named."""
    files: list[str] = []
    labels: list[str] = []
    hidden: list[str] = []
    skipped: list[tuple[str, str]] = []
    for root in patterns:
        if not tf.io.gfile.isdir(root):
            raise UsageError(flag, f"'{root}' is not a directory of class folders")
        for label in sorted(tf.io.gfile.listdir(root)):
            label = label.rstrip("/")
            class_dir = os.path.join(root, label)
            if label.startswith(".") or not tf.io.gfile.isdir(class_dir):
                continue
            listing = list_files(class_dir)
            # Every other file is read: one without an image extension becomes a bad record.
            files += listing.files
            labels += [label] * len(listing.files)
            hidden += listing.hidden  # .DS_Store and friends are not data: named, not counted
            skipped += [(s.shown, s.reason) for s in listing.skipped]
    if not any(image_folder.unsupported_extension(f) is None for f in files):
        raise UsageError(flag, f"no image files ({', '.join(IMAGE_EXTENSIONS)}) under {list(patterns)}/<class>/")
    return InputSpec(
        role,
        flag,
        "images",
        patterns,
        tuple(files),
        image_labels=tuple(labels),
        hidden_files=tuple(hidden),
        skipped_files=tuple(skipped),
    )


# --- Beam ---------------------------------------------------------------


def _bad(kind: str, sample: str | bytes, where: str = "") -> dict:
    if isinstance(sample, bytes):
        sample = repr(sample[:_SAMPLE_CHARS])
    return {"kind": kind, "where": where, "sample": sample[:_SAMPLE_CHARS]}


class _DecodeExamples(beam.DoFn):
    """Serialized tf.Examples -> RecordBatch; records that do not parse go to the bad output."""

    def setup(self) -> None:
        self._decoder = example_coder.ExamplesToRecordBatchDecoder()
        self._bad_counter = beam.metrics.Metrics.counter("kestrel_validation", UNPARSEABLE_RECORD)

    def process(self, records: list[bytes]) -> Iterator:
        try:
            decoded = self._decoder.DecodeBatch(records)
        except Exception:  # noqa: BLE001 - any decode failure sends us to the slow path
            decoded = None
        if decoded is not None:
            yield decoded
        else:
            yield from self._decode_one_by_one(records)

    def _decode_one_by_one(self, records: list[bytes]) -> Iterator:
        """One record spoiled the batch: find it, keep the rest."""
        good = []
        for record in records:
            try:
                self._decoder.DecodeBatch([record])
                good.append(record)
            except Exception:  # noqa: BLE001
                self._bad_counter.inc()
                yield beam.pvalue.TaggedOutput(_BAD, _bad(UNPARSEABLE_RECORD, record))
        if good:
            try:
                batches = [self._decoder.DecodeBatch(good)]
            except Exception:  # noqa: BLE001 - e.g. one feature with two types in the batch
                batches = [self._decoder.DecodeBatch([record]) for record in good]
            yield from batches


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
            yield beam.pvalue.TaggedOutput(_BAD, _bad(MALFORMED_CSV_LINE, f"{problem}: {line}"))


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


class _ImageToExample(beam.DoFn):
    """(path, class) -> a serialized tf.Example with the encoded image, label and file name.

    A file the trainer would skip (image_folder.classify_image_file) is a bad record naming
    its path and reason, never an example TFDV's image decoder then fails the job on.
    """

    def __init__(self, label_feature: str):
        self._label_feature = label_feature

    def process(self, item: tuple[str, str]) -> Iterator:
        path, label = item
        encoded, bad = image_folder.read_image_file(path)
        if bad is None:
            yield self._example(path, label, encoded)
        else:
            yield beam.pvalue.TaggedOutput(_BAD, _bad(bad.kind, bad.reason, path))

    def _example(self, path: str, label: str, encoded: bytes) -> bytes:
        feature = {
            IMAGE_FEATURE: tf.train.Feature(bytes_list=tf.train.BytesList(value=[encoded])),
            self._label_feature: tf.train.Feature(bytes_list=tf.train.BytesList(value=[label.encode()])),
            FILE_NAME_FEATURE: tf.train.Feature(bytes_list=tf.train.BytesList(value=[os.path.basename(path).encode()])),
        }
        return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def estimated_rows(spec: InputSpec) -> int:
    """Rows the job will decode, for the progress line: exact for image folders (one per file),
    else the rows per byte of the first file's first megabyte times every file's bytes."""
    if spec.format == "images":
        return len(spec.files)
    total = spec.num_bytes
    if not spec.files or not total:
        return 0
    rows, raw_bytes = _sample_rows(spec.files[0], spec.format)
    return max(rows, round(rows * total / raw_bytes)) if raw_bytes else 0


def _sample_rows(path: str, data_format: str) -> tuple[int, int]:
    """(rows, bytes on disk they took) in the first ``_SAMPLE_BYTES`` of ``path``; (0, 0) if unreadable."""
    try:
        with tf.io.gfile.GFile(path, "rb") as raw:
            if path.lower().endswith((".gz", ".gzip")):
                with gzip.GzipFile(fileobj=raw) as unzipped:
                    data = unzipped.read(_SAMPLE_BYTES)
            else:
                data = raw.read(_SAMPLE_BYTES)
            on_disk = raw.tell()
    except (OSError, EOFError, tf.errors.OpError):
        return 0, 0
    if data_format == "csv":
        return max(data.count(b"\n") - 1, 0), on_disk  # less the header line
    rows = offset = 0
    while offset + 8 <= len(data):
        (length,) = struct.unpack("<Q", data[offset : offset + 8])
        offset += length + _FRAMING_BYTES
        rows += offset <= len(data)
    return rows, on_disk if rows else 0


def batch_clock_metric(role: str) -> str:
    """The Beam distribution metric of the times (epoch ms) at which ``role``'s batches were decoded."""
    return f"{role}_batch_unix_ms"


class _Progress(beam.DoFn):
    """This worker's progress line: Beam has no job-wide progress on every runner.

    Each of ``workers`` workers is taken to decode an equal share of the estimated
    rows, so the percentage and the time left are this worker's, and the job's
    when the workers keep pace with each other.
    """

    def __init__(self, role: str, every: int, expected_rows: int, workers: int, exact: bool):
        self._role = role
        self._every = every
        self._share = max(1, math.ceil(expected_rows / max(1, workers)))
        self._exact = exact

    def setup(self) -> None:
        self._rows = 0
        self._counter = beam.metrics.Metrics.counter("kestrel_validation", f"{self._role}_rows")
        # When batches were decoded (wall clock, ms), over all workers: its min and max bound the
        # statistics pass apart from worker start-up (statistics.JobTiming).
        self._clock = beam.metrics.Metrics.distribution("kestrel_validation", batch_clock_metric(self._role))
        self._line = None
        if self._every:
            what = f"  [{self._role} worker {os.getpid()}] rows decoded"
            self._line = ProgressLine(self._share, 1, self._every, what=what, unit="rows", approximate=not self._exact)
            self._line.update(0)

    def process(self, batch: pa.RecordBatch) -> Iterator[pa.RecordBatch]:
        self._rows += batch.num_rows
        self._counter.inc(batch.num_rows)
        self._clock.update(int(time.time() * 1000))
        if self._line:
            self._line.update(self._rows)
        yield batch


def _read_lines(pipeline: beam.Pipeline, spec: InputSpec, label: str) -> beam.PCollection:
    reads = [
        pipeline | f"{label}{i}" >> beam.io.ReadFromText(pattern, skip_header_lines=1)
        for i, pattern in enumerate(spec.patterns)
    ]
    return reads | f"{label}Flatten" >> beam.Flatten()


def _csv_batches(pipeline: beam.Pipeline, spec: InputSpec, delimiter: str) -> tuple[beam.PCollection, list]:
    step = spec.role.capitalize()
    parse = _ParseCsvLines(len(spec.csv_columns), delimiter)
    batch = beam.BatchElements(min_batch_size=RECORD_BATCH_SIZE, max_batch_size=RECORD_BATCH_SIZE)
    # Types come from the data (INT < FLOAT < STRING), never from the schema: a column that
    # turned into strings must show up as a type anomaly, not as a crash or a dropped row.
    # The files are read twice, once for the types and once for the rows: a side input
    # computed from the rows themselves would hold every parsed row in memory until then.
    typed = _read_lines(pipeline, spec, f"{step}TypesRead") | f"{step}TypesParse" >> beam.ParDo(parse).with_outputs(
        _BAD, main="rows"
    )
    kinds = beam.pvalue.AsSingleton(
        typed.rows
        | f"{step}TypesBatch" >> batch
        | f"{step}InferColumnTypes" >> beam.CombineGlobally(_InferCsvTypes(len(spec.csv_columns)))
    )
    parsed = _read_lines(pipeline, spec, f"{step}Read") | f"{step}ParseCsv" >> beam.ParDo(parse).with_outputs(
        _BAD, main="rows"
    )
    batches = (
        parsed.rows
        | f"{step}BatchRows" >> batch
        | f"{step}RowsToArrow" >> beam.ParDo(_CsvRowsToRecordBatch(spec.csv_columns), kinds)
    )
    return batches, [parsed[_BAD]]


class _ReadTFRecordFile(beam.DoFn):
    """A TFRecord file -> lists of its records; a corrupt one (torn, bad CRC) -> its readable records and a bad record.

    Beam's ReadFromTFRecord fails the whole job on a torn file ("the statistics job
    failed"); read here, the damage is a finding naming the file, as the trainer's
    --on_corrupt_record names it. A TFRecord file cannot be split anyway: one file per call.

    Records come out in lists of up to ``batch_size``, batched by tf.data in C++: one
    eager ``next()`` per record took half of a worker's CPU time (py-spy, docs/validation.md).
    """

    def __init__(self, batch_size: int = RECORD_BATCH_SIZE):
        self._batch_size = batch_size

    def setup(self) -> None:
        self._bad_counter = beam.metrics.Metrics.counter("kestrel_validation", CORRUPT_TFRECORD_FILE)

    def process(self, item: str | tuple[str, int, int]) -> Iterator:
        """``item``: a file's path, or (path, skip, take): only those records of it (a sliced split)."""
        path, skip, take = (item, 0, -1) if isinstance(item, str) else item
        compressed = path.lower().endswith((".gz", ".gzip"))
        count = consumed = 0
        try:
            records_read = _tfrecord_dataset(path, compressed).skip(skip).take(take)
            for batch in records_read.batch(self._batch_size).as_numpy_iterator():
                records = batch.tolist()
                count += len(records)
                consumed += sum(map(len, records)) + _FRAMING_BYTES * len(records)
                yield records
        except tf.errors.OpError:
            # The damage is in the batch being read: read that batch record by record, so every
            # readable record before the damage is kept and counted, as an unbatched read would.
            yield from self._read_damaged(path, compressed, skip + count)
            return
        # TensorFlow's reader ends quietly at a tail shorter than a record header: a torn record too.
        tail = 0 if compressed or (skip, take) != (0, -1) else _size(path) - consumed
        if tail > 0:
            yield self._corrupt(path, f"{tail:,} bytes after its {count:,} whole records: a torn record")

    def _read_damaged(self, path: str, compressed: bool, whole: int) -> Iterator:
        """The records after the first ``whole`` ones up to the damage, then the bad record naming it."""
        records: list[bytes] = []
        try:
            for record in _tfrecord_dataset(path, compressed).skip(whole).as_numpy_iterator():
                records.append(record)
        except tf.errors.OpError as err:
            if records:
                yield records
            count = whole + len(records)
            yield self._corrupt(path, f"{image_folder.decoder_message(err)}; {count:,} readable records before it")

    def _corrupt(self, path: str, reason: str) -> beam.pvalue.TaggedOutput:
        self._bad_counter.inc()
        return beam.pvalue.TaggedOutput(_BAD, _bad(CORRUPT_TFRECORD_FILE, reason, path))


def _tfrecord_dataset(path: str, compressed: bool) -> tf.data.Dataset:
    return tf.data.TFRecordDataset(path, compression_type="GZIP" if compressed else "")


def _example_batches(pipeline: beam.Pipeline, spec: InputSpec, label: str | None) -> tuple[beam.PCollection, list]:
    """Lists of serialized tf.Examples of a TFRecord input or an image folder, and the bad records found reading them."""
    step = spec.role.capitalize()
    if spec.format == "images":
        items = list(zip(spec.files, spec.image_labels, strict=True))
        converted = (
            pipeline
            | f"{step}ListImages" >> beam.Create(items, reshuffle=True)
            | f"{step}ImagesToExamples"
            >> beam.ParDo(_ImageToExample(label or "label")).with_outputs(_BAD, main="examples")
        )
        batches = converted.examples | f"{step}BatchRecords" >> beam.BatchElements(
            min_batch_size=IMAGE_BATCH_SIZE, max_batch_size=IMAGE_BATCH_SIZE
        )
        skipped = pipeline | f"{step}SkippedFiles" >> beam.Create(
            [_bad(reason.split(" (")[0], reason, path) for path, reason in spec.skipped_files]
        )
        return batches, [converted[_BAD], skipped]
    # The reader batches the records itself (in C++): no per-record Beam step between file and decoder.
    read = (
        pipeline
        | f"{step}ListTFRecordFiles" >> beam.Create(list(spec.ranges or spec.files), reshuffle=True)
        | f"{step}ReadTFRecord" >> beam.ParDo(_ReadTFRecordFile()).with_outputs(_BAD, main="records")
    )
    return read.records, [read[_BAD]]


def read_record_batches(
    pipeline: beam.Pipeline,
    spec: InputSpec,
    *,
    label: str | None,
    delimiter: str,
    progress_every: int,
    workers: int = 1,
) -> tuple[beam.PCollection, beam.PCollection]:
    """Adds the read + decode steps for ``spec``: (record batches, bad records).

    ``workers`` is how many workers share the decoding, for each one's progress line.
    """
    step = spec.role.capitalize()
    if spec.format == "csv":
        batches, bad_parts = _csv_batches(pipeline, spec, delimiter)
    else:
        records, bad_parts = _example_batches(pipeline, spec, label)
        decoded = records | f"{step}DecodeExamples" >> beam.ParDo(_DecodeExamples()).with_outputs(_BAD, main="batches")
        bad_parts.append(decoded[_BAD])
        batches = decoded.batches
    # Exact only for image folders on one worker: every file is a row (less its bad files).
    exact = spec.format == "images" and workers == 1
    progress = _Progress(spec.role, progress_every, estimated_rows(spec), workers, exact)
    batches = batches | f"{step}Progress" >> beam.ParDo(progress)
    bad = bad_parts | f"{step}FlattenBad" >> beam.Flatten() if len(bad_parts) > 1 else bad_parts[0]
    return batches, bad


class SummarizeBadRecords(beam.CombineFn):
    """Counts per kind and the first few samples: a bad-records report of bounded size."""

    MAX_SAMPLES = 10  # per kind: a rare kind (one torn file) is named even among many of another

    def create_accumulator(self) -> dict:
        return {"counts": {}, "samples": []}

    def add_input(self, acc: dict, bad: dict) -> dict:
        kind = bad["kind"]
        if acc["counts"].get(kind, 0) < self.MAX_SAMPLES:
            acc["samples"].append(bad)
        acc["counts"][kind] = acc["counts"].get(kind, 0) + 1
        return acc

    def merge_accumulators(self, accs: Iterable[dict]) -> dict:
        merged = self.create_accumulator()
        for acc in accs:
            for kind, n in acc["counts"].items():
                merged["counts"][kind] = merged["counts"].get(kind, 0) + n
            merged["samples"].extend(acc["samples"])
        merged["samples"] = self._trimmed(merged["samples"])
        return merged

    def extract_output(self, acc: dict) -> dict:
        return {"counts": acc["counts"], "samples": self._trimmed(acc["samples"])}

    def _trimmed(self, samples: list[dict]) -> list[dict]:
        """At most MAX_SAMPLES of each kind, in a fixed order (the same report on every run)."""
        kept: dict[str, int] = {}
        out = []
        for sample in sorted(samples, key=lambda b: (b["kind"], b["where"], b["sample"])):
            if kept.get(sample["kind"], 0) < self.MAX_SAMPLES:
                kept[sample["kind"]] = kept.get(sample["kind"], 0) + 1
                out.append(sample)
        return out
