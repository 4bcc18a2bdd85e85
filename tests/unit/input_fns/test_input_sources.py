"""TFRecord, CSV, array and synthetic sources, and make_source: one interface from DataParams."""

import dataclasses
import glob
import os

import numpy as np
import pytest
import tensorflow as tf

from common.errors import UsageError
from common.params import FEATURES, TEST, VALIDATION, AugmentParams, DataParams
from input_fns import array_source, csv_source, sources, tfrecord_source
from input_fns.pipeline_ops import EVALUATE, FIT, PREDICT, InputRequest, PipelineOptions
from input_fns.preprocessing import ImageSpec

pytestmark = pytest.mark.medium

DIGITS = ImageSpec(8, 8, 1, "unit")
WINE_COLUMNS = ["fixed acidity", "alcohol", "colour", "quality"]


def _digits_files(data_dir, split):
    return sorted(glob.glob(os.path.join(data_dir, "digits", "1.0.0", f"digits-{split}.tfrecord*")))


def test_tfrecords_written_by_tfds_with_a_declared_spec(tfds_data_dir):
    spec = tfrecord_source.parse_feature_spec("image:bytes,label:int64")
    files = _digits_files(tfds_data_dir, "test")
    fn = tfrecord_source.input_fn(files, spec, InputRequest(EVALUATE, 64, "image", DIGITS))
    labels = []
    for features, y in fn():
        assert features["image"].shape[1:] == (8, 8, 1) and features["image"].dtype == tf.float32
        labels.append(y.numpy())
    assert len(np.concatenate(labels)) == 360


def test_make_source_tfrecord_reads_sizes_and_classes(tfds_data_dir):
    pattern = os.path.join(tfds_data_dir, "digits", "1.0.0", "digits-{}.tfrecord*")
    data = DataParams(source="tfrecord", train_files=pattern.format("train"), validation_files=pattern.format("test"))
    source = sources.make_source(data, seed=1)
    assert source.meta.split_sizes == {"train": 1437, "validation": 360}
    assert source.meta.class_names == tuple(str(i) for i in range(10))
    batch = next(iter(source.input_fn("train", FIT, 32, "image", DIGITS)()))
    assert batch[0]["image"].shape == (32, 8, 8, 1)


def test_tabular_tfrecords_feed_a_features_dict(tmp_path):
    path = str(tmp_path / "rows.tfrecord")
    with tf.io.TFRecordWriter(path) as writer:
        for i in range(10):
            example = tf.train.Example(
                features=tf.train.Features(
                    feature={
                        "age": tf.train.Feature(float_list=tf.train.FloatList(value=[float(i)])),
                        "pair": tf.train.Feature(int64_list=tf.train.Int64List(value=[i, -i])),
                        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[i % 2])),
                    }
                )
            )
            writer.write(example.SerializeToString())
    spec = tfrecord_source.parse_feature_spec("age:float32, pair:int64[2], label:int64")
    assert spec.image_key is None and spec.feature_names == ("age", "pair")
    features, labels = next(iter(tfrecord_source.input_fn([path], spec, InputRequest(EVALUATE, 10))()))
    assert features["age"].shape == (10,) and features["pair"].shape == (10, 2)
    np.testing.assert_array_equal(labels.numpy(), np.arange(10) % 2)


@pytest.mark.parametrize(
    "text,message",
    [("image:bytes,label:complex", "not name:type"), ("image:bytes", "--label_key: 'label' is not in"), ("", "empty")],
)
def test_bad_feature_specs(text, message):
    with pytest.raises(UsageError, match=message):
        tfrecord_source.parse_feature_spec(text)


def test_a_glob_matching_nothing_is_a_usage_error(tmp_path):
    data = DataParams(source="tfrecord", train_files=str(tmp_path / "*.tfrecord"), validation_files=str(tmp_path / "x"))
    with pytest.raises(UsageError, match=r"--train_files: '.*\*.tfrecord' matches no files"):
        sources.make_source(data)


def _wine_csv(path, rows=60, seed=0, separator=";"):
    rng = np.random.default_rng(seed)
    with open(path, "w") as f:
        f.write(separator.join(f'"{c}"' for c in WINE_COLUMNS) + "\n")
        for _ in range(rows):
            values = [rng.normal(7.0, 1.5), rng.normal(10.5, 1.0), rng.choice(["red", "white"]), rng.integers(4, 8)]
            f.write(separator.join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in values) + "\n")
    return path


def test_csv_standardises_with_training_rows_only(tmp_path):
    train = _wine_csv(str(tmp_path / "train.csv"), seed=0)
    evaluation = _wine_csv(str(tmp_path / "validation.csv"), rows=30, seed=1)
    table = csv_source.load(train, evaluation, separator=";", label_key="quality")
    assert set(table.splits) == {"train", "validation"} and len(table.splits["validation"][1]) == 30
    assert table.feature_names == ("fixed_acidity", "alcohol", "colour")
    assert table.numeric == ("fixed_acidity", "alcohol")
    assert table.class_names == ("4", "5", "6", "7")
    train_x = table.splits["train"][0]["alcohol"]
    assert abs(train_x.mean()) < 1e-5 and abs(train_x.std() - 1) < 1e-3
    raw_eval = np.loadtxt(evaluation, delimiter=";", skiprows=1, usecols=1)
    expected = (raw_eval - table.standardizer.mean["alcohol"]) / table.standardizer.std["alcohol"]
    np.testing.assert_allclose(table.splits["validation"][0]["alcohol"][:, 0], expected, rtol=1e-5)

    features, labels = next(iter(csv_source.input_fn(table, VALIDATION, InputRequest(EVALUATE, 8))()))
    assert set(features) == {"fixed_acidity", "alcohol", "colour"}
    assert features["alcohol"].shape == (8, 1) and features["colour"].dtype == tf.string
    assert labels.dtype == tf.int64
    with pytest.raises(UsageError, match="non-numeric columns"):
        csv_source.input_fn(table, "train", InputRequest(FIT, 8, "features"))


def test_csv_through_make_source_with_a_seeded_split_and_one_dense_input(tmp_path):
    path = str(tmp_path / "wine.csv")
    with open(path, "w") as f:
        f.write("a;b;quality\n" + "".join(f"{i};{i * 2};{i % 3}\n" for i in range(50)))
    data = DataParams(source="csv", train_files=path, csv_separator=";", label_key="quality", val_fraction=0.2)
    source = sources.make_source(data, seed=4)
    assert source.meta.kind == FEATURES and source.meta.split_sizes == {"train": 40, "validation": 10}
    assert source.meta.features == (("a", 1), ("b", 1))
    features, labels = next(iter(source.input_fn("train", FIT, 16)()))
    assert set(features) == {"a", "b"} and features["a"].shape == (16, 1) and features["b"].shape == (16, 1)

    # The carved split is seeded: the same seed carves the same rows, another seed others.
    def carved(seed):
        source = sources.make_source(data, seed=seed)
        return np.concatenate([f["a"][:, 0].numpy() for f, _ in source.input_fn(VALIDATION, EVALUATE, 100)()])

    np.testing.assert_array_equal(carved(4), carved(4))
    assert not np.array_equal(np.sort(carved(4)), np.sort(carved(5)))


def test_csv_missing_the_label_column_is_a_usage_error(tmp_path):
    path = _wine_csv(str(tmp_path / "wine.csv"))
    with pytest.raises(UsageError, match=r"--label_key: no column 'quality' .*\(is --csv_separator right\?\)"):
        csv_source.load(path, separator=",", label_key="quality")
    with pytest.raises(UsageError, match="--label_key: no column 'grade'"):
        csv_source.load(path, separator=";", label_key="grade")


def test_arrays_of_images_and_of_features():
    images = np.random.default_rng(0).integers(0, 255, (10, 12, 12), np.uint8)
    labels = np.arange(10) % 3
    fn = array_source.input_fn(images, labels, InputRequest(EVALUATE, 4, "image", ImageSpec(8, 8, 3, "tf")))
    batches = list(fn())
    assert [len(y) for _, y in batches] == [4, 4, 2]
    first = batches[0][0]["image"].numpy()
    assert first.shape == (4, 8, 8, 3) and first.min() >= -1 and first.max() <= 1

    table = {"x": np.ones((10, 3), np.float32), "y": np.zeros((10, 1), np.float32)}
    features = next(iter(array_source.input_fn(table, None, InputRequest(PREDICT, 5))()))
    assert set(features) == {"x", "y"} and features["x"].shape == (5, 3)
    with pytest.raises(UsageError, match="different lengths"):
        array_source.input_fn(images, labels[:5], InputRequest(EVALUATE, 4, "image", ImageSpec(8, 8, 3)))
    with pytest.raises(UsageError, match="empty"):
        array_source.input_fn(images[:0], labels[:0], InputRequest(EVALUATE, 4, "image", ImageSpec(8, 8, 3)))


def test_make_source_tfds_matches_the_tfds_input_fn(tfds_data_dir):
    data = DataParams(data_dir=tfds_data_dir, cache="memory")
    source = sources.make_source(data, seed=0)
    assert source.meta.class_names == tuple(str(d) for d in range(10))
    # No validation split named: the last 20% of train is carved off for it.
    assert source.meta.image_shape == (8, 8, 1)
    assert source.meta.split_sizes == {"train": 1150, "validation": 287, "test": 360}
    assert source.meta.split_names == {"train": "train[:80%]", "validation": "train[80%:]", "test": "test"}
    assert source.meta.report_role == TEST
    for role, size in source.meta.split_sizes.items():
        labels = np.concatenate([y.numpy() for _, y in source.input_fn(role, EVALUATE, 100, "image", DIGITS)()])
        assert len(labels) == size
    sliced = sources.make_source(
        DataParams(data_dir=tfds_data_dir, train_split="train[:10%]", validation_split="train[10%:20%]")
    )
    assert len(next(iter(sliced.input_fn("train", EVALUATE, 1000, "image", DIGITS)()))[1]) == 144
    with pytest.raises(UsageError, match=r"'digits' has no eval data"):
        source.input_fn("eval", EVALUATE, 100, "image", DIGITS)
    with pytest.raises(UsageError, match=r"--test_split: 'test\[:0\]' of 'digits' is empty"):
        sources.make_source(DataParams(data_dir=tfds_data_dir, test_split="test[:0]"))


def test_synthetic_data_has_the_real_shapes_and_no_io(tfds_data_dir):
    source = sources.make_source(DataParams(data_dir=tfds_data_dir, synthetic=True))
    real = sources.make_source(DataParams(data_dir=tfds_data_dir))
    fake_ds = source.input_fn("train", FIT, 32, "image", DIGITS)()
    assert fake_ds.element_spec == real.input_fn("train", FIT, 32, "image", DIGITS)().element_spec
    evaluation = list(source.input_fn("test", EVALUATE, 100, "image", DIGITS)())
    assert len(evaluation) == 4  # ceil(360 / 100)
    assert sum(len(labels) for _, labels in evaluation) == 360  # the last batch partial, not padded to 400
    graph = fake_ds._as_serialized_graph().numpy()  # the dataset's own graph: no file is read
    assert b"TFRecordDataset" not in graph and b"ReadFile" not in graph
    assert b"TFRecordDataset" in real.input_fn("train", FIT, 32, "image", DIGITS)()._as_serialized_graph().numpy()


def test_unknown_source_and_missing_image_dir():
    with pytest.raises(UsageError, match="--source: unknown source 'parquet'"):
        sources.make_source(DataParams(source="parquet"))
    with pytest.raises(UsageError, match="--image_dir: not set"):
        sources.make_source(DataParams(source="image_folder"))


def test_pipeline_options_reject_an_empty_cache():
    with pytest.raises(UsageError, match="--cache: empty"):
        PipelineOptions(cache="")


def test_augmented_training_batches_from_tfds_and_tfrecord_bytes(tfds_data_dir):
    augment = AugmentParams(horizontal_flip=True, zoom=0.3, brightness=0.1, contrast=0.1)
    spec = ImageSpec(12, 12, 3, "tf")
    tfds_data = DataParams(data_dir=tfds_data_dir, augment=augment)
    pattern = os.path.join(tfds_data_dir, "digits", "1.0.0", "digits-{}.tfrecord*")
    record_data = DataParams(
        source="tfrecord", train_files=pattern.format("train"), validation_files=pattern.format("test"), augment=augment
    )
    for data in (tfds_data, record_data):
        for cache in ("none", "memory"):
            source = sources.make_source(dataclasses.replace(data, cache=cache), seed=5)
            images = next(iter(source.input_fn("train", FIT, 16, "image", spec)()))[0]["image"]
            assert images.shape == (16, 12, 12, 3) and images.dtype == tf.float32
            evaluated = next(iter(source.input_fn(VALIDATION, EVALUATE, 16, "image", spec)()))[0]["image"].numpy()
            assert evaluated.min() >= -1.0 and evaluated.max() <= 1.0
