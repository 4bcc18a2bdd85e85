"""The image folder source: classes from subfolders, a fixed split, bad files skipped and counted, clear errors."""

import io
import logging
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from common import params
from common.errors import UsageError
from estimators.tasks.base import collect_inputs
from input_fns import image_folder, pipeline_ops
from input_fns.pipeline_ops import EVALUATE, FIT, PREDICT, InputRequest, PipelineOptions
from input_fns.preprocessing import ImageSpec

pytestmark = pytest.mark.medium

SPEC = ImageSpec(16, 16, 3, "unit")
FORMATS = ["PNG", "JPEG", "BMP", "GIF"]


def _save(path, array, fmt, mode=None):
    image = Image.fromarray(array)
    if mode:
        image = image.convert(mode)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    image.save(path, format=fmt)


def _tree(root, classes=("cat", "dog", "fox"), per_class=6, seed=0):
    """Each class: a distinct flat colour (so labels can be checked), sizes and formats vary."""
    rng = np.random.default_rng(seed)
    for c, name in enumerate(classes):
        for i in range(per_class):
            fmt = FORMATS[i % len(FORMATS)]
            h, w = rng.integers(12, 30, 2)
            array = np.full((h, w, 3), 40 + 80 * c, np.uint8)
            _save(os.path.join(root, name, f"{i}.{fmt.lower()}"), array, fmt)
    return root


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return _tree(str(tmp_path_factory.mktemp("tree")))


@pytest.fixture(scope="module")
def dirty_tree(tmp_path_factory):
    """Good images in odd modes plus files that are not decodable images."""
    root = _tree(str(tmp_path_factory.mktemp("dirty")), per_class=4)
    rgb = np.full((20, 24, 3), 200, np.uint8)
    _save(f"{root}/cat/gray.png", rgb, "PNG", "L")
    _save(f"{root}/cat/cmyk.jpg", rgb, "JPEG", "CMYK")
    _save(f"{root}/dog/alpha.png", rgb, "PNG", "RGBA")
    _save(f"{root}/dog/palette.gif", rgb, "GIF", "P")
    _save(f"{root}/fox/gray.bmp", rgb, "BMP", "L")
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (40, 40, 3), np.uint8)).save(buffer, "JPEG")
    bad = {
        "cat/truncated.jpg": buffer.getvalue()[: len(buffer.getvalue()) // 2],
        "dog/empty.png": b"",
        "fox/notes.gif": b"these are not pixels",
        "fox/random.bmp": bytes(np.random.default_rng(2).integers(0, 255, 300, np.uint8)),
    }
    for name, data in bad.items():
        with open(os.path.join(root, name), "wb") as f:
            f.write(data)
    with open(os.path.join(root, "cat", "readme.txt"), "w") as f:
        f.write("not an image extension: ignored")
    return root, sorted(os.path.join(root, name) for name in [*bad, "cat/readme.txt"])


def test_classes_come_from_sorted_subfolders_and_split_is_fixed(tree):
    folder = image_folder.load(tree, val_fraction=0.34, seed=1)
    assert folder.class_names == ("cat", "dog", "fox")
    assert len(folder.splits[params.TRAIN]) + len(folder.splits[params.VALIDATION]) == 18
    assert sorted(np.bincount(folder.splits[params.VALIDATION].labels)) == [2, 2, 2]  # stratified
    assert (
        image_folder.load(tree, val_fraction=0.34, seed=1).splits[params.VALIDATION] == folder.splits[params.VALIDATION]
    )
    assert (
        image_folder.load(tree, val_fraction=0.34, seed=2).splits[params.VALIDATION] != folder.splits[params.VALIDATION]
    )
    assert not set(folder.splits[params.TRAIN].paths) & set(folder.splits[params.VALIDATION].paths)


def test_eval_reads_every_file_once_with_matching_labels(tree):
    folder = image_folder.load(tree, val_fraction=0.5, seed=0)
    fn = image_folder.input_fn(folder.splits[params.VALIDATION], InputRequest(EVALUATE, 4, "image", SPEC))
    images, labels = collect_inputs(fn, "image")
    assert images.shape == (len(folder.splits[params.VALIDATION]), 16, 16, 3) and images.dtype == np.float32
    # Flat colour 40 + 80 * class, scaled to [0, 1]: the label travels with its image.
    np.testing.assert_allclose(images[:, 0, 0, 0], (40 + 80 * labels) / 255.0, atol=1 / 255)


def test_train_batches_are_static_shuffled_and_repeat(tree):
    folder = image_folder.load(tree, val_fraction=0.2, seed=0)
    fn = image_folder.input_fn(
        folder.splits[params.TRAIN], InputRequest(FIT, 5, "image", SPEC), PipelineOptions(seed=3)
    )
    ds = fn()
    assert ds.element_spec[0]["image"].shape.as_list() == [5, 16, 16, 3]
    labels = np.concatenate([y.numpy() for _, y in ds.take(12)])  # 60 examples > one epoch of 15
    assert len(labels) == 60
    again = np.concatenate([y.numpy() for _, y in fn().take(12)])
    np.testing.assert_array_equal(labels, again)  # seeded
    assert not np.array_equal(labels[:15], np.sort(labels[:15]))


def test_predict_yields_features_only(tree):
    folder = image_folder.load(tree, seed=0)
    fn = image_folder.input_fn(folder.splits[params.VALIDATION], InputRequest(PREDICT, 8, "image", SPEC))
    element = fn().element_spec
    assert isinstance(element, dict) and set(element) == {"image"}


def test_bad_files_are_skipped_and_counted_in_one_warning(dirty_tree, caplog):
    root, bad = dirty_tree
    with caplog.at_level(logging.WARNING):
        folder = image_folder.load(root, val_fraction=0.3, seed=0, max_bad_fraction=0.5)
    assert sorted(folder.skipped) == bad
    warnings = [r.getMessage() for r in caplog.records if r.getMessage().startswith("image_folder: ")]
    assert len(warnings) == 1 and warnings[0].startswith("image_folder: 17 images used; 5 skipped: "), warnings
    for reason, path in [
        ("1 truncated JPEG", "cat/truncated.jpg"),
        ("1 zero bytes", "dog/empty.png"),
        ("1 not an image (text)", "fox/notes.gif"),
        ("1 not an image (unknown data)", "fox/random.bmp"),
        ("1 unsupported format .txt", "cat/readme.txt"),
    ]:
        assert f"{reason} ({path})" in warnings[0], warnings[0]
    # Above the threshold the same files refuse the data (exit 3), as the gate refuses it.
    with pytest.raises(image_folder.BadImagesError, match=r"5 of 22 files .* above --max_bad_record_fraction=0.2"):
        image_folder.load(root, val_fraction=0.3, seed=0, max_bad_fraction=0.2)
    # Grayscale, CMYK, alpha, palette and 8-bit BMP decode to 3 channels; a full epoch never stops.
    every = image_folder.FileList(
        folder.splits[params.TRAIN].paths + folder.splits[params.VALIDATION].paths,
        folder.splits[params.TRAIN].labels + folder.splits[params.VALIDATION].labels,
    )
    images, _ = collect_inputs(image_folder.input_fn(every, InputRequest(EVALUATE, 8, "image", SPEC)), "image")
    assert images.shape == (17, 16, 16, 3)


def test_without_the_check_bad_files_are_dropped_in_the_pipeline(dirty_tree):
    root, bad = dirty_tree
    folder = image_folder.load(root, val_fraction=0.3, seed=0, check_images=False)
    assert folder.skipped == (os.path.join(root, "cat", "readme.txt"),)  # named by its extension, unread
    every = image_folder.FileList(
        folder.splits[params.TRAIN].paths + folder.splits[params.VALIDATION].paths,
        folder.splits[params.TRAIN].labels + folder.splits[params.VALIDATION].labels,
    )
    fn = image_folder.input_fn(every, InputRequest(EVALUATE, 8, "image", SPEC), skip_errors=True)
    images, _ = collect_inputs(fn, "image")
    assert len(images) == len(every) - len(bad) + 1


def test_val_dir_must_have_the_training_classes(tree, tmp_path):
    val = _tree(str(tmp_path / "val"), classes=("cat", "dog", "fox"), per_class=2)
    folder = image_folder.load(tree, val_dir=val)
    assert len(folder.splits[params.TRAIN]) == 18 and len(folder.splits[params.VALIDATION]) == 6
    assert params.TEST not in folder.splits
    other = _tree(str(tmp_path / "other"), classes=("cat", "emu"), per_class=1)
    with pytest.raises(UsageError, match="--val_dir: .* has classes"):
        image_folder.load(tree, val_dir=other)


def test_test_dir_is_the_test_role_and_must_have_the_training_classes(tree, tmp_path):
    test = _tree(str(tmp_path / "test"), classes=("cat", "dog", "fox"), per_class=3)
    folder = image_folder.load(tree, val_fraction=0.34, seed=1, test_dir=test)
    assert set(folder.splits) == {params.TRAIN, params.VALIDATION, params.TEST}
    assert len(folder.splits[params.TRAIN]) + len(folder.splits[params.VALIDATION]) == 18
    assert len(folder.splits[params.TEST]) == 9 and all(p.startswith(test) for p in folder.splits[params.TEST].paths)
    other = _tree(str(tmp_path / "other"), classes=("cat", "emu"), per_class=1)
    with pytest.raises(UsageError, match="--test_dir: .* has classes"):
        image_folder.load(tree, test_dir=other)


@pytest.mark.parametrize(
    "layout,message",
    [
        ({}, "no class subfolders"),
        ({"cat": 2, "dog": 0}, r"class folder\(s\) with no .* images .*\['dog'\]"),
        ({"cat": 1, "dog": 1}, "--val_fraction: no decodable images"),
    ],
)
def test_empty_inputs_are_usage_errors(tmp_path, layout, message):
    for name, count in layout.items():
        os.makedirs(tmp_path / name)
        for i in range(count):
            _save(str(tmp_path / name / f"{i}.png"), np.zeros((4, 4, 3), np.uint8), "PNG")
    with pytest.raises(UsageError, match=message):
        image_folder.load(str(tmp_path), val_fraction=0.2)


def test_a_missing_directory_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="--image_dir: .* is not a directory"):
        image_folder.load(str(tmp_path / "nope"))


def test_sharding_and_per_replica_batch(tree):
    folder = image_folder.load(tree, val_fraction=0.5, seed=0)
    fn = image_folder.input_fn(folder.splits[params.VALIDATION], InputRequest(EVALUATE, 4, "image", SPEC))
    context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=1, num_replicas_in_sync=2)
    sizes = [len(y) for _, y in fn(context)]
    assert sizes[0] == 2 and sum(sizes) == len(folder.splits[params.VALIDATION]) // 2
    odd = image_folder.input_fn(folder.splits[params.VALIDATION], InputRequest(EVALUATE, 5, "image", SPEC))
    with pytest.raises(UsageError, match="global batch 5 does not divide over 2 replicas"):
        odd(context)


def test_drop_remainder_and_file_cache(tree, tmp_path):
    folder = image_folder.load(tree, val_fraction=0.5, seed=0)  # 9 validation files
    options = PipelineOptions(drop_remainder=True, cache=str(tmp_path / "cache"))
    fn = image_folder.input_fn(folder.splits[params.VALIDATION], InputRequest(EVALUATE, 4, "image", SPEC), options)
    assert [len(y) for _, y in fn()] == [4, 4]
    assert list(tmp_path.glob("cache*"))
    assert [len(y) for _, y in fn()] == [4, 4]  # read back from the cache
    with pytest.raises(UsageError, match="unknown mode"):
        pipeline_ops.check_mode("training")
