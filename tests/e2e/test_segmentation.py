"""Segmentation through the front door: the embedded shapes dataset, both engines, masks in and out.

Each engine trains the ch. 9 encoder-decoder once (module fixture). The report
must beat what predicting "background" everywhere scores, the export must take
image bytes and return a class mask, and scripts.predict must write one mask
PNG per image at the image's own size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from support import (
    ShapesTask,
    predict_beside_a_broken_image,
    run_script,
    serving_signature,
    train_refused,
    training_report,
)

pytestmark = pytest.mark.medium


SHAPES_TASK = ShapesTask("segmentation", "segmenter", 32, 0.003, 200, "masks.png", "the images and masks")


def test_shapes_report_beats_all_background(shapes_report):
    run, report = shapes_report
    assert report["class_names"] == ["background", "circle", "square", "triangle"]
    # "background" everywhere scores its pixel share (0.86) on one class and 0 on three: a mean of 0.215.
    assert report["mean_iou"] > 0.27 and max(report["iou"][1:]) > 0.15, report
    assert f"mean IoU {report['mean_iou']:.4f}, pixel accuracy {report['pixel_accuracy']:.4f}" in run.stdout
    assert "test mean_iou" in run.stdout and "validation mean_iou" in run.stdout


def test_the_export_takes_bytes_and_returns_the_mask(shapes_runs, tmp_path):
    from input_fns.datasets.shapes.shapes_dataset_builder import draw

    image, mask = draw(np.random.default_rng(123))
    big = tf.image.resize(image, (96, 128)).numpy().astype(np.uint8)  # not the model's size: resized in the graph
    paths = []
    for i, pixels in enumerate((image, big)):
        paths.append(tmp_path / f"img{i}.png")
        paths[-1].write_bytes(tf.io.encode_png(pixels).numpy())
    for engine, (model_dir, _) in shapes_runs.items():
        out = serving_signature(model_dir)(image_bytes=tf.constant([p.read_bytes() for p in paths]))
        assert out["mask"].shape == (2, 64, 64) and out["probabilities"].shape == (2, 64, 64, 4), engine
        masks_dir = tmp_path / f"masks_{engine}"
        cli = predict_beside_a_broken_image(model_dir, tmp_path, masks_dir)
        written = tf.io.decode_png((masks_dir / "img1_mask.png").read_bytes()).numpy()
        assert written.shape == (96, 128, 1) and written.max() <= 3
        small = tf.io.decode_png((masks_dir / "img0_mask.png").read_bytes()).numpy()[..., 0]
        np.testing.assert_array_equal(small, out["mask"].numpy()[0])
        assert cli.stdout.splitlines()[0].split() == ["path", "mask", "background", "circle", "square", "triangle"]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--dataset=digits", "--task=segmentation", "--model=segmenter"), ("--task", "'segmentation_mask'")),
        (("--dataset=shapes", "--task=segmentation"), ("--task", "'small_cnn'", "segmenter")),
        (("--dataset=shapes", "--task=segmentation", "--model=segmenter", "--image_size=60"), ("--image_size", "8")),
        (
            ("--dataset=shapes", "--task=segmentation", "--model=segmenter", "--augment_hflip"),
            ("--augment_*", "not its mask"),
        ),
        (
            ("--source=csv", "--train_files=x.csv", "--task=segmentation", "--model=segmenter"),
            ("--task", "has no masks"),
        ),
    ],
    ids=["no_mask_feature", "model", "size", "augment", "source"],
)
def test_segmentation_misfits_are_one_line_usage_errors(tfds_data_dir, tmp_path, args, words):
    line = train_refused(tfds_data_dir, tmp_path, *args)
    assert all(word in line for word in words), line


@pytest.fixture()
def mask_folders(tmp_path):
    """Six shapes as image + mask folders (JPEG images, PNG masks), as Oxford pets ships them."""
    from PIL import Image

    from input_fns.datasets.shapes.shapes_dataset_builder import draw

    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    rng = np.random.default_rng(4)
    for i in range(6):
        image, mask = draw(rng)
        Image.fromarray(image).save(images / f"pet{i}.jpg")
        Image.fromarray(mask[..., 0]).save(masks / f"pet{i}.png")
    return images, masks


FOLDER = ("--source=image_folder", "--task=segmentation", "--model=segmenter", "--image_size=64", "--novalidate_data")


def _broken_pair(images: Path, masks: Path, fault: str) -> str:
    from PIL import Image

    if fault == "missing":
        (masks / "pet3.png").unlink()
        return "pet3.jpg' has no mask"
    if fault == "size":
        Image.fromarray(np.zeros((32, 64), np.uint8)).save(masks / "pet2.png")
        return "pet2.png' is 64x32; its image"
    if fault == "class":
        Image.fromarray(np.full((64, 64), 7, np.uint8)).save(masks / "pet1.png")
        return "pet1.png' holds class 7; allowed: 0 to 3"
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(masks / "stray.png")
    return "1 file(s)"


@pytest.mark.parametrize("fault", ["missing", "size", "class", "orphan"])
def test_a_broken_image_and_mask_pair_is_named_before_training(mask_folders, tmp_path, fault):
    images, masks = mask_folders
    words = _broken_pair(images, masks, fault)
    model_dir = tmp_path / "never"
    out = run_script(
        "scripts.train",
        *FOLDER,
        f"--image_dir={images}",
        f"--mask_dir={masks}",
        "--class_names=background,circle,square,triangle",
        f"--model_dir={model_dir}",
    )
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert out.returncode == 2 and len(errors) == 1 and "Traceback" not in out.stderr, out.stderr[-2000:]
    assert "--mask_dir" in errors[0] and words in errors[0], errors[0]
    assert not model_dir.exists()


def test_image_and_mask_folders_train(mask_folders, tmp_path):
    images, masks = mask_folders
    model_dir = tmp_path / "folders"
    out = run_script(
        "scripts.train",
        *FOLDER,
        f"--image_dir={images}",
        f"--mask_dir={masks}",
        "--val_fraction=0.34",
        "--train_steps=4",
        "--batch_size=2",
        f"--model_dir={model_dir}",
    )
    assert out.returncode == 0, out.stderr[-3000:]
    report = training_report(model_dir)
    # No names given: the classes are the ids the masks hold; no test folder: the report is on validation.
    assert report["class_names"] == ["0", "1", "2", "3"] and report["examples"] == 2
