"""The "text" format: plain UTF-8 text files (a language model's corpus), one record per non-blank line.

Each record has the line itself (``text``), its length in characters
(``characters``) and in whitespace-separated words (``words``), so TFDV
gives the corpus what it gives other features: the string's top values, the
length and word-count distributions, and their drift. An empty file or one
that is not UTF-8 is refused before Beam starts, naming the file and line.
"""

from __future__ import annotations

from collections.abc import Iterator

import apache_beam as beam
import numpy as np
import pyarrow as pa

from input_fns.text_files import read_text
from pipeline.validation.readers import base
from pipeline.validation.readers.base import RECORD_BATCH_SIZE, InputSpec, Read, ReadOptions, Request

FORMAT = "text"
TEXT_EXTENSIONS = (".txt",)
TEXT_FEATURE, CHARACTERS_FEATURE, WORDS_FEATURE = "text", "characters", "words"


def claims(path: str) -> bool:
    return path.lower().endswith(TEXT_EXTENSIONS)


def _resolve(request: Request, files: tuple[str, ...]) -> InputSpec:
    for path in files:
        read_text(path, request.flag)  # the source's own check: UTF-8, not empty (file and line named)
    return InputSpec(request.role, request.flag, FORMAT, request.patterns, files)


def _one_values(values: list, arrow_type: pa.DataType) -> pa.Array:
    offsets = pa.array(np.arange(len(values) + 1, dtype=np.int64))
    return pa.LargeListArray.from_arrays(offsets, pa.array(values, type=arrow_type))


class _LinesToRecordBatch(beam.DoFn):
    def process(self, lines: list[str]) -> Iterator[pa.RecordBatch]:
        arrays = [
            _one_values([line.encode("utf-8") for line in lines], pa.large_binary()),
            _one_values([len(line) for line in lines], pa.int64()),
            _one_values([len(line.split()) for line in lines], pa.int64()),
        ]
        yield pa.RecordBatch.from_arrays(arrays, [TEXT_FEATURE, CHARACTERS_FEATURE, WORDS_FEATURE])


def _read(pipeline: beam.Pipeline, spec: InputSpec, options: ReadOptions) -> Read:
    """The record batches of every file's non-blank lines; nothing is bad once the files passed _resolve."""
    step = base.step_name(spec)
    reads = [pipeline | f"{step}Read{i}" >> beam.io.ReadFromText(path) for i, path in enumerate(spec.files)]
    lines = reads | f"{step}Flatten" >> beam.Flatten() if len(reads) > 1 else reads[0]
    batches = (
        lines
        | f"{step}NonBlank" >> beam.Filter(lambda line: bool(line.strip()))
        | f"{step}BatchLines" >> beam.BatchElements(min_batch_size=RECORD_BATCH_SIZE, max_batch_size=RECORD_BATCH_SIZE)
        | f"{step}LinesToArrow" >> beam.ParDo(_LinesToRecordBatch())
    )
    none = pipeline | f"{step}NoBadLines" >> beam.Create([])
    return batches, [none]


def _head_rows(head: bytes) -> int:
    return sum(1 for line in head.split(b"\n") if line.strip())


READER = base.file_reader(FORMAT, claims, _resolve, _read, base.head_sample(_head_rows))
