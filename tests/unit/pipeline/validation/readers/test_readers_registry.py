"""The readers' registry: one reader per gate format, chosen as resolve_input says, each read through Beam.

Each format's tiny input is read by ``read_record_batches`` on the in-process DirectRunner:
the rows it decodes and the bad records it names are counted.
"""

from __future__ import annotations

import apache_beam as beam
import pytest
import tensorflow as tf
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to

from common.errors import UsageError
from input_fns import image_folder
from pipeline.validation import readers
from pipeline.validation.config import FORMATS


def _example(i: int) -> bytes:
    feature = {"x": tf.train.Feature(int64_list=tf.train.Int64List(value=[i]))}
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _resolve(patterns, data_format: str = "auto") -> readers.InputSpec:
    return readers.resolve_input([str(p) for p in patterns], data_format, role="data", flag="data", delimiter=",")


def _read(spec: readers.InputSpec, rows: int, bad_kinds: list[str]) -> None:
    """Runs the reader of ``spec`` in process and checks the rows it decodes and the kinds of its bad records."""
    options = PipelineOptions(runner="DirectRunner", direct_running_mode="in_memory", direct_num_workers=1)
    with beam.Pipeline(options=options) as p:
        batches, bad = readers.read_record_batches(p, spec, label=None, delimiter=",", progress_every=0)
        counted = batches | beam.Map(lambda b: b.num_rows) | beam.CombineGlobally(sum)
        assert_that(counted, equal_to([rows]), label="rows")
        assert_that(bad | beam.Map(lambda b: b["kind"]), equal_to(bad_kinds), label="bad")


def test_every_gate_format_has_one_reader():
    assert sorted(readers.READERS) == sorted(f for f in FORMATS if f != "auto")
    assert all(reader.format == name for name, reader in readers.READERS.items())


def test_tfrecord_rows_and_unparseable_records(tmp_path):
    path = tmp_path / "part.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as writer:
        for record in [_example(0), b"\x08not a proto", _example(1), _example(2)]:
            writer.write(record)
    spec = _resolve([path])
    assert spec.format == "tfrecord" and readers.estimated_rows(spec) == 4
    _read(spec, 3, [readers.UNPARSEABLE_RECORD])


def test_csv_rows_and_malformed_lines(tmp_path):
    path = tmp_path / "part.csv"
    path.write_text("a,b\n1,x\n2,y\n3\n\n4,z\n")
    spec = _resolve([path])
    assert spec.format == "csv" and spec.csv_columns == ("a", "b")
    _read(spec, 3, [readers.MALFORMED_CSV_LINE])


def test_image_folder_rows_and_bad_files(tmp_path):
    cat = tmp_path / "cat"
    cat.mkdir()
    (cat / "one.png").write_bytes(tf.io.encode_png(tf.zeros([4, 4, 3], tf.uint8)).numpy())
    (cat / "empty.png").write_bytes(b"")
    spec = _resolve([tmp_path])
    assert spec.format == "images" and spec.image_labels == ("cat", "cat")
    _read(spec, 1, [image_folder.ZERO_BYTES])


def test_auto_refuses_a_mix_of_csv_and_other_files(tmp_path):
    (tmp_path / "a.csv").write_text("a\n1\n")
    (tmp_path / "b.tfrecord").write_bytes(b"")
    with pytest.raises(UsageError, match="the inputs mix CSV and other files; set --data_format"):
        _resolve([tmp_path / "*"])


@pytest.mark.parametrize(
    ("patterns", "message"),
    [([], "no input given"), (["{tmp}/none-*.tfrecord"], "matches no file")],
)
def test_unusable_inputs_are_usage_errors(tmp_path, patterns, message):
    with pytest.raises(UsageError, match=message):
        _resolve([p.format(tmp=tmp_path) for p in patterns])
