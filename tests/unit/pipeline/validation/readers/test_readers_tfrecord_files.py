"""The TFRecord reader, file by file: every readable record kept and counted, the damage named."""

from __future__ import annotations

import apache_beam as beam
import tensorflow as tf

from pipeline.validation.readers import tfrecord_files
from pipeline.validation.readers.base import BAD


def _write(path, count: int) -> list[bytes]:
    records = [f"record {i}".encode() for i in range(count)]
    with tf.io.TFRecordWriter(str(path)) as writer:
        for record in records:
            writer.write(record)
    return records


def _read(item, batch_size: int = 4) -> tuple[list[bytes], list[dict]]:
    """(the records read, the bad records) of one file or (file, skip, take)."""
    reader = tfrecord_files._ReadTFRecordFile(batch_size)
    reader.setup()
    records, bad = [], []
    for out in reader.process(item):
        if isinstance(out, beam.pvalue.TaggedOutput):
            assert out.tag == BAD
            bad.append(out.value)
        else:
            records += out
    return records, bad


def test_a_whole_file_is_read_in_lists_of_the_batch_size(tmp_path):
    path = tmp_path / "ok.tfrecord"
    written = _write(path, 10)
    assert _read(str(path)) == (written, [])
    assert tfrecord_files._sample_rows(str(path)) == (10, path.stat().st_size)


def test_a_slice_reads_only_its_records(tmp_path):
    path = tmp_path / "split.tfrecord"
    written = _write(path, 10)
    assert _read((str(path), 3, 5)) == (written[3:8], [])


def test_a_torn_file_keeps_its_whole_records_and_names_the_tail(tmp_path):
    path = tmp_path / "torn.tfrecord"
    written = _write(path, 6)
    with open(path, "ab") as f:
        f.write(b"\x01\x02\x03")  # shorter than a record header
    records, bad = _read(str(path))
    assert records == written
    assert [(b["kind"], b["where"]) for b in bad] == [(tfrecord_files.CORRUPT_TFRECORD_FILE, str(path))]
    assert bad[0]["sample"] == "3 bytes after its 6 whole records: a torn record"


def test_a_damaged_record_keeps_every_record_before_it(tmp_path):
    path = tmp_path / "damaged.tfrecord"
    written = _write(path, 6)
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF  # the last record's data CRC
    path.write_bytes(bytes(data))
    records, bad = _read(str(path))
    assert records == written[:5]
    assert bad[0]["kind"] == tfrecord_files.CORRUPT_TFRECORD_FILE
    assert bad[0]["sample"].endswith("; 5 readable records before it")
