"""Inputs of the validation job, one reader per format, as Arrow record batches.

The registry, by the format names ``pipeline.validation.config.FORMATS`` allows:
"tfrecord" (tfrecord_files.py: TFRecord files of tf.Examples, a sliced TFDS split
included), "csv" (csv_files.py), "images" (image_folders.py) and "text"
(text_corpus.py: .txt files); "auto" picks one from what was named. Each module owns its format start to end (checking the input,
its Beam read and decode steps, its bad-record kinds, its row estimate) and keeps
the contract in base.py.

``resolve_input`` checks what a user named before any Beam work starts (a glob
matching no file is a usage error); ``read_record_batches`` adds the Beam read and
decode steps for one input to a pipeline and returns two PCollections: the record
batches TFDV takes, and the records that could not be decoded (malformed CSV lines,
unparseable protos, unusable image files, corrupt TFRecord files). Bad records are
counted and sampled, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Iterable

import apache_beam as beam
import tensorflow as tf

from common.errors import UsageError
from pipeline.validation.readers import csv_files, image_folders, text_corpus, text_folders, tfrecord_files
from pipeline.validation.readers.bad_records import SummarizeBadRecords
from pipeline.validation.readers.base import (
    RECORD_BATCH_SIZE,
    InputSpec,
    Reader,
    ReadOptions,
    Request,
    glob_files,
    step_name,
)
from pipeline.validation.readers.csv_files import CSV_EXTENSIONS, MALFORMED_CSV_LINE
from pipeline.validation.readers.examples import UNPARSEABLE_RECORD
from pipeline.validation.readers.image_folders import FILE_NAME_FEATURE, IMAGE_BATCH_SIZE, IMAGE_FEATURE
from pipeline.validation.readers.progress import Progress, batch_clock_metric
from pipeline.validation.readers.tfrecord_files import CORRUPT_TFRECORD_FILE, tfds_split_pattern

__all__ = [
    "CORRUPT_TFRECORD_FILE",
    "CSV_EXTENSIONS",
    "FILE_NAME_FEATURE",
    "IMAGE_BATCH_SIZE",
    "IMAGE_FEATURE",
    "MALFORMED_CSV_LINE",
    "READERS",
    "RECORD_BATCH_SIZE",
    "UNPARSEABLE_RECORD",
    "InputSpec",
    "SummarizeBadRecords",
    "batch_clock_metric",
    "estimated_rows",
    "read_record_batches",
    "resolve_input",
    "tfds_split_pattern",
]

AUTO = "auto"
READERS: dict[str, Reader] = {
    reader.format: reader
    for reader in (
        tfrecord_files.READER,
        csv_files.READER,
        image_folders.READER,
        text_corpus.READER,
        text_folders.READER,
    )
}
# Under "auto", a file is read by the first of these that claims it: TFRecord takes what is left.
_BY_FILE_NAME = (csv_files.READER, text_corpus.READER, tfrecord_files.READER)


def _reader_of(path: str) -> Reader:
    return next(reader for reader in _BY_FILE_NAME if reader.claims(path))


def _auto_reader(request: Request, files: tuple[str, ...]) -> Reader:
    """The one format every matched file's name says; a mix is a usage error."""
    kinds = {_reader_of(f).format for f in files}
    if len(kinds) > 1:
        raise UsageError(request.flag, "the inputs mix CSV and other files; set --data_format")
    return READERS[kinds.pop()]


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
    request = Request(tuple(p for p in patterns if p), role, flag, delimiter, ranges)
    if not request.patterns:
        raise UsageError(flag, "no input given")
    if data_format != AUTO and data_format not in READERS:
        raise UsageError("data_format", f"'{data_format}' is not one of {', '.join([AUTO, *READERS])}")
    reader = READERS.get(data_format)
    if reader is None and all(tf.io.gfile.isdir(p) for p in request.patterns):
        reader = image_folders.READER  # "auto" on folders: image folders, the one format read from folders
    if reader is not None and reader.reads_folders:
        return reader.resolve(request, ())
    files = glob_files(request)
    return (reader or _auto_reader(request, files)).resolve(request, files)


def estimated_rows(spec: InputSpec) -> int:
    """Rows the job will decode, for the progress line: exact for image folders (one per file),
    else the rows per byte of the first file's first megabyte times every file's bytes."""
    return READERS[spec.format].estimated_rows(spec)


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
    step = step_name(spec)
    reader = READERS[spec.format]
    batches, bad_parts = reader.read(pipeline, spec, ReadOptions(label, delimiter))
    # Exact only on one worker (image folders: every file is a row, less its bad files).
    exact = reader.exact_rows and workers == 1
    progress = Progress(spec.role, progress_every, reader.estimated_rows(spec), workers, exact)
    batches = batches | f"{step}Progress" >> beam.ParDo(progress)
    bad = bad_parts | f"{step}FlattenBad" >> beam.Flatten() if len(bad_parts) > 1 else bad_parts[0]
    return batches, bad
