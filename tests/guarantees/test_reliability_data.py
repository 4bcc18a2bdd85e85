"""Corrupt TFRecord shards: --on_corrupt_record=fail names the file, skip counts; never a silent partial epoch."""

from __future__ import annotations

import glob
import re
import shutil

import pytest
import tensorflow as tf
from support import run_script

from common.errors import UsageError
from common.names import EXPORT_DIR
from common.params import VALIDATION, DataParams
from input_fns import sources
from input_fns.pipeline_ops import EVALUATE

pytestmark = pytest.mark.medium

RECORDS_PER_SHARD = 20


def _example(i: int) -> bytes:
    feature = {
        "x": tf.train.Feature(float_list=tf.train.FloatList(value=[float(i)] * 4)),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[i % 2])),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _write_shards(folder, shards: int = 3) -> list[str]:
    paths = []
    for s in range(shards):
        path = str(folder / f"data-{s:05d}.tfrecord")
        with tf.io.TFRecordWriter(path) as writer:
            for i in range(RECORDS_PER_SHARD):
                writer.write(_example(s * RECORDS_PER_SHARD + i))
        paths.append(path)
    return paths


def _truncate(path: str, drop_bytes: int = 30) -> None:
    with open(path, "rb+") as f:
        f.truncate(f.seek(0, 2) - drop_bytes)


def _flip_byte(path: str, offset: int) -> None:
    with open(path, "rb+") as f:
        f.seek(offset)
        byte = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([byte ^ 0xFF]))


def _params(folder, on_corrupt: str) -> DataParams:
    pattern = str(folder / "data-*.tfrecord")
    return DataParams(
        source="tfrecord",
        train_files=pattern,
        validation_files=pattern,
        feature_spec="x:float32[4],label:int64",
        on_corrupt_record=on_corrupt,
    )


def _read_all(source) -> int:
    ds = source.input_fn(VALIDATION, EVALUATE, batch_size=7)()
    return sum(int(labels.shape[0]) for _, labels in ds)


def test_truncated_shard_fails_naming_the_file(tmp_path):
    paths = _write_shards(tmp_path)
    _truncate(paths[1])
    with pytest.raises(UsageError, match=r"data-00001\.tfrecord.*corrupt TFRecord.*--on_corrupt_record=skip"):
        sources.make_source(_params(tmp_path, "fail"))


def test_skip_keeps_every_readable_record_and_counts(tmp_path, caplog):
    paths = _write_shards(tmp_path)
    _truncate(paths[0])  # the last record is cut: 19 of 20 remain readable
    _flip_byte(paths[2], 200)  # a bad CRC in the 3rd record or so: the rest of that shard is unreadable
    source = sources.make_source(_params(tmp_path, "skip"))
    expected = sum(
        sum(1 for _ in tf.data.TFRecordDataset(p).ignore_errors()) for p in paths
    )  # what a careful reader can get
    assert RECORDS_PER_SHARD < expected < 3 * RECORDS_PER_SHARD
    assert source.meta.split_sizes[VALIDATION] == expected
    # The input_fn yields exactly those records: nothing readable lost, nothing corrupt passed through.
    assert _read_all(source) == expected
    warning = " ".join(r.getMessage() for r in caplog.records)
    assert "skipping the unreadable records of 2 of 3 files" in warning
    assert "data-00000.tfrecord (19 readable records kept)" in warning


def test_tfds_corrupt_shard_fails_naming_the_file(tfds_data_dir, tmp_path):
    data_dir = tmp_path / "tfds"
    shutil.copytree(tfds_data_dir, data_dir)
    # digits' own shard: the shared data_dir also holds the other embedded datasets other tests prepared.
    shard = sorted(glob.glob(str(data_dir / "digits" / "**" / "digits-test.tfrecord-*"), recursive=True))[0]
    _truncate(shard, drop_bytes=100)
    with pytest.raises(UsageError, match=rf"--test_split: '{shard}' is a corrupt TFRecord file"):
        sources.make_source(DataParams(data_dir=str(data_dir), on_corrupt_record="fail"))
    # A prepared TFDS shard is never skipped: skip is refused up front (re-prepare, or read the shards as tfrecord).
    with pytest.raises(UsageError, match=r"--on_corrupt_record: 'skip' applies to --source=tfrecord.*re-prepare it"):
        sources.make_source(DataParams(data_dir=str(data_dir), on_corrupt_record="skip"))


def test_train_script_one_line_error_on_corrupt_shard(tmp_path):
    paths = _write_shards(tmp_path, shards=2)
    _truncate(paths[1])
    result = run_script(
        "scripts.train",
        "--source=tfrecord",
        f"--train_files={tmp_path}/data-*.tfrecord",
        f"--validation_files={tmp_path}/data-*.tfrecord",
        "--feature_spec=x:float32[4],label:int64",
        "--model=dnn",
        "--train_steps=1",
        f"--model_dir={tmp_path / 'model'}",
        timeout=300,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("error: --train_files: '") and "data-00001.tfrecord" in lines[-1]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "model" / EXPORT_DIR).exists()


@pytest.mark.parametrize(
    "dataset, task_args",
    [
        ("digits", ()),
        ("diabetes", ("--task=regression", "--model=dnn")),  # a table
        ("shapes", ("--task=segmentation", "--model=segmenter")),  # images and masks
    ],
)
def test_the_gate_validates_the_sliced_train_split_that_trains(tfds_data_dir, tmp_path, dataset, task_args):
    """--train_split=train[:50%]: the gate reads that half's records, not the whole split, and says so."""
    from input_fns import tfds_source

    splits = tfds_source.load_builder(dataset, tfds_data_dir).info.splits
    half, whole = splits["train[:50%]"].num_examples, splits["train"].num_examples
    assert half < whole
    result = run_script(
        "scripts.train",
        f"--dataset={dataset}",
        *task_args,
        f"--data_dir={tfds_data_dir}",
        f"--model_dir={tmp_path / 'model'}",
        "--train_split=train[:50%]",
        "--validation_split=train[50%:]",
        "--gate_cache_dir=",
        "--gate_running_mode=in_memory",
        "--train_steps=1",
        "--eval_throttle_secs=0",
        "--noreport",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"validation: {half} examples of the slice train[:50%] clean; report" in result.stdout, result.stdout
    summary_line = rf"^gate {{2,}}{half} examples of the slice train\[:50%\] clean$"
    assert re.search(summary_line, result.stdout, re.M), result.stdout
