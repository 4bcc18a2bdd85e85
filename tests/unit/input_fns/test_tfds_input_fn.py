"""The TFDS input_fn: what model_to_estimator expects, per mode, and per replica."""

import numpy as np
import pytest
import tensorflow as tf

from common.errors import UsageError
from input_fns import pipeline_ops, tfds_source
from input_fns.pipeline_ops import InputRequest
from input_fns.preprocessing import ImageSpec

pytestmark = pytest.mark.medium

SPEC = ImageSpec(8, 8, 1, "unit")


def test_meta_reads_dataset_info(digits_builder):
    meta = tfds_source.dataset_meta(digits_builder)
    assert meta.num_classes == 10
    assert meta.image_shape == (8, 8, 1)
    assert meta.split_sizes == {"train": 1437, "test": 360}


def test_train_batches_are_static_and_repeat(digits_builder):
    fn = tfds_source.input_fn(digits_builder, "train", InputRequest(pipeline_ops.FIT, 64, "image", SPEC), seed=1)
    ds = fn()
    features, labels = ds.element_spec
    assert set(features) == {"image"}
    assert features["image"].shape.as_list() == [64, 8, 8, 1]
    assert features["image"].dtype == tf.float32 and labels.dtype == tf.int64
    # 1437 examples / 64 is 22.4 batches: a repeating dataset keeps going past one epoch.
    batches = list(ds.take(30))
    assert len(batches) == 30
    images = batches[0][0]["image"].numpy()
    assert images.min() >= 0.0 and images.max() <= 1.0


def test_eval_sees_each_example_once(digits_builder):
    fn = tfds_source.input_fn(digits_builder, "test", InputRequest(pipeline_ops.EVALUATE, 64, "image", SPEC))
    labels = np.concatenate([y.numpy() for _, y in fn()])
    assert len(labels) == 360
    assert np.bincount(labels).sum() == 360


def test_slicing_follows_tfds_syntax(digits_builder):
    fn = tfds_source.input_fn(digits_builder, "train[:10%]", InputRequest(pipeline_ops.EVALUATE, 1000, "image", SPEC))
    ((features, labels),) = list(fn())
    assert len(labels) == 144


def test_shuffle_is_seeded(digits_builder):
    def first_labels(seed):
        fn = tfds_source.input_fn(digits_builder, "train", InputRequest(pipeline_ops.FIT, 32, "image", SPEC), seed=seed)
        return next(iter(fn()))[1].numpy()

    np.testing.assert_array_equal(first_labels(3), first_labels(3))
    assert not np.array_equal(first_labels(3), first_labels(4))


def test_per_replica_batch_and_sharding(digits_builder):
    fn = tfds_source.input_fn(digits_builder, "test", InputRequest(pipeline_ops.EVALUATE, 64, "image", SPEC))
    context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=0, num_replicas_in_sync=2)
    sizes = [len(y) for _, y in fn(context)]
    assert sizes[0] == 32
    assert sum(sizes) == 180  # this pipeline's half of the 360 test examples


def test_batch_must_divide_over_replicas(digits_builder):
    fn = tfds_source.input_fn(digits_builder, "test", InputRequest(pipeline_ops.EVALUATE, 63, "image", SPEC))
    context = tf.distribute.InputContext(num_input_pipelines=1, input_pipeline_id=0, num_replicas_in_sync=2)
    with pytest.raises(UsageError, match="global batch 63 does not divide over 2 replicas"):
        fn(context)


def test_unknown_split_is_a_usage_error(digits_builder):
    with pytest.raises(UsageError, match="--split"):
        tfds_source.input_fn(digits_builder, "validation", InputRequest(pipeline_ops.EVALUATE, 8, "image", SPEC))


def test_unknown_dataset_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="unknown dataset 'no_such_dataset'"):
        tfds_source.load_builder("no_such_dataset", str(tmp_path))


def test_unprepared_catalog_dataset_needs_download(tmp_path):
    with pytest.raises(UsageError, match="not prepared .* --download"):
        tfds_source.load_builder("mnist", str(tmp_path))
