"""Serialized tf.Examples -> Arrow record batches: the last step of the TFRecord, image- and text-folder readers."""

from __future__ import annotations

from collections.abc import Iterator

import apache_beam as beam
from tfx_bsl.coders import example_coder

from pipeline.validation.readers.base import BAD, InputSpec, Read, bad, step_name

PCollection = beam.pvalue.PCollection

# A record that is no tf.Example proto, as the report names it.
UNPARSEABLE_RECORD = "unparseable_record"


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
                yield beam.pvalue.TaggedOutput(BAD, bad(UNPARSEABLE_RECORD, record))
        if good:
            try:
                batches = [self._decoder.DecodeBatch(good)]
            except Exception:  # noqa: BLE001 - e.g. one feature with two types in the batch
                batches = [self._decoder.DecodeBatch([record]) for record in good]
            yield from batches


def decode(spec: InputSpec, records: Read) -> Read:
    """Adds the decode step after a reader's lists of serialized tf.Examples; its bad records join the reader's."""
    lists, bad_parts = records
    decoded = lists | f"{step_name(spec)}DecodeExamples" >> beam.ParDo(_DecodeExamples()).with_outputs(
        BAD, main="batches"
    )
    return decoded.batches, [*bad_parts, decoded[BAD]]


def from_folder_files(
    pipeline: beam.Pipeline,
    spec: InputSpec,
    noun: str,
    to_example: beam.DoFn,
    batch_size: int,
    skipped: tuple[PCollection, ...] = (),
) -> Read:
    """A folder reader's files: each ``(path, class)`` of ``spec`` made a serialized tf.Example by ``to_example``
    (its ``BAD`` output: a file it could not read), batched ``batch_size`` at a time and decoded; ``skipped``: the
    bad records of files passed over before reading. ``noun`` names the steps (``List<noun>``)."""
    step = step_name(spec)
    items = list(zip(spec.files, spec.image_labels, strict=True))
    converted = (
        pipeline
        | f"{step}List{noun}" >> beam.Create(items, reshuffle=True)
        | f"{step}{noun}ToExamples" >> beam.ParDo(to_example).with_outputs(BAD, main="examples")
    )
    batches = converted.examples | f"{step}BatchRecords" >> beam.BatchElements(
        min_batch_size=batch_size, max_batch_size=batch_size
    )
    return decode(spec, (batches, [converted[BAD], *skipped]))
