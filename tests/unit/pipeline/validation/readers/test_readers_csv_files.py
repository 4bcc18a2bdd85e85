"""The CSV reader's pieces: the shared header, column types from the data, a line as cells or a bad record."""

from __future__ import annotations

import gzip

import apache_beam as beam
import pyarrow as pa
import pytest

from common.errors import UsageError
from pipeline.validation.readers import csv_files
from pipeline.validation.readers.base import BAD


def test_every_file_shares_the_header_and_gzip_is_read(tmp_path):
    plain, zipped = tmp_path / "a.csv", tmp_path / "b.csv.gz"
    plain.write_text(" x , y\n1,2\n")
    zipped.write_bytes(gzip.compress(b"x,y\n3,4\n"))
    empty = tmp_path / "c.csv"
    empty.write_text("")  # no header line: no rows, not a different header
    assert csv_files._csv_columns((str(plain), str(zipped), str(empty)), ",", "data") == ("x", "y")


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        (["x,x\n"], "has a header with empty or repeated column names"),
        (["x,y\n", "x,z\n"], "has header ['x', 'z'], unlike ['x', 'y']"),
        ([""], "the 1 CSV file(s) matched are empty (zero rows)"),
    ],
)
def test_unusable_headers_are_usage_errors(tmp_path, texts, message):
    files = []
    for i, text in enumerate(texts):
        files.append(tmp_path / f"{i}.csv")
        files[-1].write_text(text)
    with pytest.raises(UsageError) as raised:
        csv_files._csv_columns(tuple(map(str, files)), ",", "data")
    assert message in str(raised.value)


def test_column_types_widen_from_int_to_float_to_string():
    infer = csv_files._InferCsvTypes(3)
    acc = infer.add_input(infer.create_accumulator(), [["1", "", "a"], ["2", "", "1"]])
    acc = infer.merge_accumulators([acc, infer.add_input(infer.create_accumulator(), [["2.5", "", "b"]])])
    assert infer.extract_output(acc) == [csv_files._FLOAT, csv_files._UNKNOWN, csv_files._STRING]


def test_an_empty_cell_is_a_missing_value():
    column = csv_files._csv_column([["1"], [""], [" 3 "]], 0)
    values = csv_files._as_list_array(column, csv_files._INT)
    assert values.to_pylist() == [[1], None, [3]]
    assert values.type == pa.large_list(pa.int64())


def test_a_line_with_the_wrong_field_count_is_a_bad_record_quoting_it():
    parse = csv_files._ParseCsvLines(2, ",")
    parse.setup()
    assert list(parse.process("1,2")) == [["1", "2"]]
    assert list(parse.process("   ")) == []  # a blank line is no row
    (bad,) = list(parse.process("1,2,3"))
    assert isinstance(bad, beam.pvalue.TaggedOutput) and bad.tag == BAD
    assert bad.value == {"kind": csv_files.MALFORMED_CSV_LINE, "where": "", "sample": "3 fields, expected 2: 1,2,3"}
