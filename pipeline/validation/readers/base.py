"""The contract every gate reader keeps: the checked input, the bad-record shape, the reader record.

A reader turns one format's input into two PCollections: Arrow record batches for
TFDV, and bad records (a dict: kind, where, sample) for what could not be decoded.
Bad records are counted and sampled, never dropped silently.
"""

from __future__ import annotations

import dataclasses
import gzip
from collections.abc import Callable

import apache_beam as beam
import tensorflow as tf

from common.errors import UsageError

# The tagged output of every reader step that finds a bad record.
BAD = "bad"
_SAMPLE_CHARS = 160
# Larger batches amortize TFDV's per-batch, per-feature Python work: 4096 took ~15% less CPU than 1000.
RECORD_BATCH_SIZE = 4096
# The progress line's total is estimated from this much of the first file (rows per byte).
SAMPLE_BYTES = 1 << 20


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
        return sum(file_size(f) for f in self.files)


@dataclasses.dataclass(frozen=True)
class Request:
    """What a user named for one input, before anything is read."""

    patterns: tuple[str, ...]
    role: str
    flag: str
    delimiter: str
    ranges: tuple[tuple[str, int, int], ...] = ()


@dataclasses.dataclass(frozen=True)
class ReadOptions:
    """How to read a checked input: the label feature (image folders name their classes by it), the CSV delimiter."""

    label: str | None
    delimiter: str


# (record batches, the PCollections of bad records found on the way)
Read = tuple[beam.PCollection, list[beam.PCollection]]


@dataclasses.dataclass(frozen=True)
class Reader:
    """One gate format, start to end: which inputs it claims, how it checks them, reads them, sizes them."""

    format: str  # as pipeline.validation.config.FORMATS names it
    # Folders (root/<class>/<file>) rather than globs of files: it is given the patterns unglobbed.
    reads_folders: bool
    claims: Callable[[str], bool]  # a matched file this format reads under --data_format=auto
    # (request, matched files) -> the checked InputSpec; UsageError for an unusable input.
    resolve: Callable[[Request, tuple[str, ...]], InputSpec]
    # (pipeline, spec, options) -> the record batches and bad records: the format's Beam steps.
    read: Callable[[beam.Pipeline, InputSpec, ReadOptions], Read]
    estimated_rows: Callable[[InputSpec], int]  # for the progress line
    exact_rows: bool  # estimated_rows is exact (one row per file) when one worker reads


def step_name(spec: InputSpec) -> str:
    """The prefix of the Beam step labels of ``spec``'s branch ("Data", "Serving")."""
    return spec.role.capitalize()


def file_size(path: str) -> int:
    try:
        return tf.io.gfile.stat(path).length
    except tf.errors.OpError:
        return 0


def bad(kind: str, sample: str | bytes, where: str = "") -> dict:
    """One bad record as the report shows it: its kind, where it was (a file) and a short sample."""
    if isinstance(sample, bytes):
        sample = repr(sample[:_SAMPLE_CHARS])
    return {"kind": kind, "where": where, "sample": sample[:_SAMPLE_CHARS]}


def glob_files(request: Request) -> tuple[str, ...]:
    """Every file the patterns match, in order; a directory, an unlistable glob or no match is a usage error."""
    files: list[str] = []
    for pattern in request.patterns:
        if tf.io.gfile.isdir(pattern):
            raise UsageError(request.flag, f"'{pattern}' is a directory; give a glob of files, or --data_format=images")
        try:
            matched = sorted(tf.io.gfile.glob(pattern))
        except tf.errors.OpError as err:
            raise UsageError(request.flag, f"cannot list '{pattern}' ({err.message.strip()})") from None
        matched = [m for m in matched if not tf.io.gfile.isdir(m)]
        if not matched:
            raise UsageError(request.flag, f"'{pattern}' matches no file")
        files.extend(matched)
    return tuple(files)


def read_head(path: str) -> tuple[bytes, int] | None:
    """The first ``SAMPLE_BYTES`` of ``path`` (uncompressed) and the bytes on disk they took; None if unreadable."""
    try:
        with tf.io.gfile.GFile(path, "rb") as raw:
            if path.lower().endswith((".gz", ".gzip")):
                with gzip.GzipFile(fileobj=raw) as unzipped:
                    data = unzipped.read(SAMPLE_BYTES)
            else:
                data = raw.read(SAMPLE_BYTES)
            return data, raw.tell()
    except (OSError, EOFError, tf.errors.OpError):
        return None


def head_sample(count_rows: Callable[[bytes], int]) -> Callable[[str], tuple[int, int]]:
    """A file's (rows, bytes on disk they took) in its head, by the format's ``count_rows(head)``; (0, 0) if unreadable."""

    def sample(path: str) -> tuple[int, int]:
        head = read_head(path)
        if head is None:
            return 0, 0
        data, on_disk = head
        rows = count_rows(data)
        return rows, on_disk if rows else 0

    return sample


def rows_by_sample(spec: InputSpec, sample_rows: Callable[[str], tuple[int, int]]) -> int:
    """The rows per byte of the first file's head times every file's bytes.

    ``sample_rows(path)`` is the format's count: (rows, bytes on disk they took) in the head of ``path``.
    """
    total = spec.num_bytes
    if not spec.files or not total:
        return 0
    rows, raw_bytes = sample_rows(spec.files[0])
    return max(rows, round(rows * total / raw_bytes)) if raw_bytes else 0


def file_reader(
    format: str,
    claims: Callable[[str], bool],
    resolve: Callable[[Request, tuple[str, ...]], InputSpec],
    read: Callable[[beam.Pipeline, InputSpec, ReadOptions], Read],
    sample_rows: Callable[[str], tuple[int, int]],
) -> Reader:
    """A format of globbed files whose rows are estimated from the first file's head (``rows_by_sample``)."""
    return Reader(
        format=format,
        reads_folders=False,
        claims=claims,
        resolve=resolve,
        read=read,
        estimated_rows=lambda spec: rows_by_sample(spec, sample_rows),
        exact_rows=False,
    )
