"""The "tfrecord" format: globs of TFRecord files of serialized tf.Examples, whole or sliced (a TFDS split).

A file is read by tf.data, in lists of records batched in C++, and decoded by
``examples.decode``. A torn or overwritten file (framing or CRC broken) is a bad
record naming it and its readable count, never a failed Beam job.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator

import apache_beam as beam
import tensorflow as tf

from input_fns import image_folder
from pipeline.validation.readers import base, examples
from pipeline.validation.readers.base import BAD, RECORD_BATCH_SIZE, InputSpec, Read, ReadOptions, Request

FORMAT = "tfrecord"
# A TFRecord file whose framing or CRC breaks (torn, truncated, overwritten): the records after
# the damage cannot be read, nor counted. Image files are counted by image_folder's kinds
# ("zero bytes", "truncated JPEG", "unsupported format .webp", ...).
CORRUPT_TFRECORD_FILE = "corrupt_tfrecord_file"
# A TFRecord record on disk: length (8 bytes), its CRC (4), the data, the data's CRC (4).
_FRAMING_BYTES = 16


def tfds_split_pattern(builder, split: str) -> str:
    """The glob of a prepared TFDS split's TFRecord files (tf.Example), to validate what training reads.

    ``builder`` is a prepared ``tfds.core.DatasetBuilder``; TFDS names its files
    ``<data_dir>/<name>-<split>.tfrecord-00000-of-0000N``.
    """
    return os.path.join(str(builder.data_dir), f"{builder.name}-{split}.tfrecord*")


def _resolve(request: Request, files: tuple[str, ...]) -> InputSpec:
    """``request.ranges`` ((file, skip, take)) reads a slice of each file's records."""
    return InputSpec(request.role, request.flag, FORMAT, request.patterns, files, ranges=request.ranges)


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
        tail = 0 if compressed or (skip, take) != (0, -1) else base.file_size(path) - consumed
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
        return beam.pvalue.TaggedOutput(BAD, base.bad(CORRUPT_TFRECORD_FILE, reason, path))


def _tfrecord_dataset(path: str, compressed: bool) -> tf.data.Dataset:
    """The file's records, read in the calling thread: no prefetch thread, no autotuning thread.

    With them (tf.data's defaults), dropping a file's iterator waited for its background
    threads: 2-2.5 s at the end of a file whenever two workers shared the 2 cores, which
    held 2 workers to 1.1-1.2x one worker's rows/sec (docs/benchmarks.md section 5).
    A worker decodes in the same thread anyway, so reading ahead gained nothing.
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    options.experimental_optimization.inject_prefetch = False
    return tf.data.TFRecordDataset(path, compression_type="GZIP" if compressed else "").with_options(options)


def _read(pipeline: beam.Pipeline, spec: InputSpec, options: ReadOptions) -> Read:
    """The record batches of every file (or slice), and the corrupt files and unparseable records found."""
    step = base.step_name(spec)
    # The reader batches the records itself (in C++): no per-record Beam step between file and decoder.
    read = (
        pipeline
        | f"{step}ListTFRecordFiles" >> beam.Create(list(spec.ranges or spec.files), reshuffle=True)
        | f"{step}ReadTFRecord" >> beam.ParDo(_ReadTFRecordFile()).with_outputs(BAD, main="records")
    )
    return examples.decode(spec, (read.records, [read[BAD]]))


def _head_rows(head: bytes) -> int:
    """The records whole in the head of a file, from the framing."""
    rows = offset = 0
    while offset + 8 <= len(head):
        (length,) = struct.unpack("<Q", head[offset : offset + 8])
        offset += length + _FRAMING_BYTES
        rows += offset <= len(head)
    return rows


_sample_rows = base.head_sample(_head_rows)
# Any file no other format claims is read as TFRecord.
READER = base.file_reader(FORMAT, lambda path: True, _resolve, _read, _sample_rows)
