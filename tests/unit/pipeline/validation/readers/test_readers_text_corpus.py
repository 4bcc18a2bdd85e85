"""The text reader: a record per non-blank line (text, characters, words); empty or non-UTF-8 files refused."""

from __future__ import annotations

import apache_beam as beam
import pyarrow as pa
import pytest
from apache_beam.testing.util import assert_that

from common.errors import UsageError
from pipeline.validation import readers
from pipeline.validation.readers.base import ReadOptions


def _resolve(path, data_format: str = "text"):
    return readers.resolve_input([str(path)], data_format, role="data", flag="data", delimiter=",")


def test_auto_reads_txt_files_as_text(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("one line\n", encoding="utf-8")
    assert _resolve(path, "auto").format == "text"


def test_non_blank_lines_become_records(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("Two words\n\n  \nthree more words é\n", encoding="utf-8")
    spec = _resolve(path)

    def check(batches):
        table = pa.Table.from_batches(batches)
        assert table.column("text").to_pylist() == [[b"Two words"], ["three more words é".encode()]]
        assert table.column("characters").to_pylist() == [[9], [18]]
        assert table.column("words").to_pylist() == [[2], [4]]

    with beam.Pipeline() as pipeline:
        batches, _ = readers.READERS["text"].read(pipeline, spec, ReadOptions(None, ","))
        assert_that(batches, check)


@pytest.mark.parametrize(("content", "words"), [(b"\n \n", "holds no text"), (b"a\nb\xe9\n", "line 2: byte 0xe9")])
def test_empty_or_not_utf8_files_are_refused_before_beam(tmp_path, content, words):
    path = tmp_path / "corpus.txt"
    path.write_bytes(content)
    with pytest.raises(UsageError, match=f"'{path}' {words}"):
        _resolve(path)
