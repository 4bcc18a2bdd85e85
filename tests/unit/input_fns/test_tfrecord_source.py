"""The tfrecord source opened on its own: tabular tf.Examples, every role sized and labelled."""

from __future__ import annotations

import pytest
import tensorflow as tf

from common.errors import UsageError
from common.params import FEATURES, TRAIN, VALIDATION, DataParams
from input_fns import tfrecord_source
from input_fns.pipeline_ops import DEFAULT_OPTIONS, EVALUATE, InputRequest


def _write(path, labels) -> str:
    with tf.io.TFRecordWriter(str(path)) as writer:
        for i, label in enumerate(labels):
            feature = {
                "age": tf.train.Feature(float_list=tf.train.FloatList(value=[float(i)])),
                "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
            }
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    return str(path)


def test_features_roles_and_named_classes(tmp_path):
    data = DataParams(
        source="tfrecord",
        train_files=_write(tmp_path / "train.tfrecord", [0, 1, 2, 0, 1]),
        validation_files=_write(tmp_path / "val.tfrecord", [2, 0]),
        feature_spec="age:float32,label:int64",
        class_names="low,mid,high",
    )
    meta, factory = tfrecord_source.open(data, 0, DEFAULT_OPTIONS)
    assert (meta.kind, meta.features, meta.class_names) == (FEATURES, (("age", 1),), ("low", "mid", "high"))
    assert meta.split_sizes == {TRAIN: 5, VALIDATION: 2} and meta.gate_format == "tfrecord"
    features, labels = next(iter(factory(VALIDATION, InputRequest(EVALUATE, 2))()))
    assert list(labels.numpy()) == [2, 0] and features["age"].shape == (2,)


def test_validation_files_are_required(tmp_path):
    data = DataParams(source="tfrecord", train_files=_write(tmp_path / "t.tfrecord", [0]), feature_spec="label:int64")
    with pytest.raises(UsageError, match=r"^--validation_files: required with --source=tfrecord"):
        tfrecord_source.open(data, 0, DEFAULT_OPTIONS)
