"""Boxes as the detection source encodes them per grid cell, and decoded back as the export decodes them."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from estimators.tasks.detection import decode
from input_fns.detection import box_fault, encode

BOXES = np.array([[0.1, 0.2, 0.5, 0.6], [0.55, 0.05, 0.95, 0.45], [0.3, 0.6, 0.7, 0.95]], np.float32)
LABELS = np.array([0, 2, 1])


def test_the_heatmap_is_one_at_each_centre_only():
    grid = encode(tf.constant(BOXES), tf.constant(LABELS), 16, 16, 3).numpy()
    assert grid.shape == (16, 16, 3 + 4)
    ys, xs, classes = np.nonzero(grid[..., :3] == 1.0)
    centres = (BOXES[:, :2] + BOXES[:, 2:]) / 2 * 16
    assert sorted(zip(classes, ys, xs, strict=True)) == sorted(
        (c, int(y), int(x)) for c, (y, x) in zip(LABELS, centres, strict=True)
    )
    assert grid[..., :3].max() == 1.0 and (grid[..., :3] >= 0).all()


def test_decoding_the_target_gives_back_the_boxes():
    grid = encode(tf.constant(BOXES), tf.constant(LABELS), 16, 16, 3)
    out = decode(grid[None], 3)
    n = int(out["num_detections"][0])
    found = {int(c): b for c, b in zip(out["class_ids"][0, :n].numpy(), out["boxes"][0, :n].numpy(), strict=True)}
    for box, label in zip(BOXES, LABELS, strict=True):
        np.testing.assert_allclose(found[int(label)], box, atol=1e-5)
    assert out["boxes"].shape == (1, 20, 4)  # a fixed number of rows, padded


def test_an_image_without_boxes_encodes_an_empty_heatmap():
    grid = encode(tf.zeros([0, 4]), tf.zeros([0], tf.int64), 8, 8, 2).numpy()
    assert not grid.any()


@pytest.mark.parametrize(
    ("boxes", "words"),
    [
        (BOXES, None),
        (np.zeros((0, 4)), "has no boxes"),
        ([[0.1, 0.1, 1.2, 0.5]], "outside the image"),
        ([[-0.1, 0.1, 0.2, 0.5]], "outside the image"),
        ([[0.1, 0.1, np.nan, 0.5]], "outside the image"),
        ([[0.5, 0.1, 0.2, 0.5]], "ill-formed"),
        ([[0.1, 0.3, 0.2, 0.3]], "ill-formed"),
        ([0.1, 0.3, 0.2], "not [ymin, xmin, ymax, xmax]"),
    ],
)
def test_box_faults_say_what_is_wrong(boxes, words):
    fault = box_fault(np.asarray(boxes, np.float32))
    assert fault is None if words is None else words in fault, fault
