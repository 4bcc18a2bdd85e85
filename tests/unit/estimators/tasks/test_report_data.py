"""What a task's evaluation reads: the images a report draws, taken from the report role's first batch."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from estimators.tasks.base import ReportData

pytestmark = pytest.mark.small


def _data(images: np.ndarray, labels: np.ndarray) -> ReportData:
    def read(role: str):
        assert role == "test", "the report role is read, not another"
        return lambda: tf.data.Dataset.from_tensor_slices(({"pixels": images}, labels)).batch(3)

    return ReportData(np.zeros(len(images)), "test", "test", read, ("a", "b"), None, "pixels")


def test_the_images_are_stretched_to_0_1_each_on_its_own():
    images = np.stack([np.full((2, 2, 1), -1.0), np.full((2, 2, 1), 5.0), np.full((2, 2, 1), 7.0)])
    images[0, 0, 0, 0], images[1, 1, 1, 0] = 3.0, 9.0  # one bright pixel each; image 2 is flat
    shown, labels = _data(images.astype(np.float32), np.arange(3)).shown_images(2)
    np.testing.assert_allclose(shown[0, ..., 0], [[1.0, 0.0], [0.0, 0.0]])
    np.testing.assert_allclose(shown[1, ..., 0], [[0.0, 0.0], [0.0, 1.0]])
    assert shown.dtype == np.float32 and labels.tolist() == [0, 1]


def test_a_flat_image_is_black_not_nan_and_fewer_images_than_asked_are_all_shown():
    images = np.full((2, 2, 2, 3), 128, np.uint8)
    shown, labels = _data(images, np.array([[1], [0]])).shown_images(6)
    assert shown.shape == (2, 2, 2, 3) and not np.isnan(shown).any() and shown.max() == 0.0
    assert labels.tolist() == [[1], [0]]
