"""The arrays source opened on its own: uint8 images or 2-D features from an .npz."""

from __future__ import annotations

import numpy as np
import pytest

from common.errors import UsageError
from common.params import FEATURES, IMAGES, TEST, TRAIN, VALIDATION, DataParams
from input_fns import array_source
from input_fns.pipeline_ops import DEFAULT_OPTIONS, EVALUATE, InputRequest
from input_fns.preprocessing import ImageSpec


def test_images_with_their_own_roles(tmp_path):
    rng = np.random.default_rng(0)
    path = str(tmp_path / "images.npz")
    images = rng.integers(0, 255, (12, 6, 6), np.uint8)
    np.savez(path, x_train=images[:8], y_train=np.arange(8) % 3, x_test=images[8:], y_test=np.arange(4) % 3)
    meta, factory = array_source.open(DataParams(source="arrays", array_file=path), 1, DEFAULT_OPTIONS)
    assert (meta.kind, meta.image_shape, meta.class_names) == (IMAGES, (6, 6, 1), ("0", "1", "2"))
    assert meta.split_sizes == {TRAIN: 6, VALIDATION: 2, TEST: 4}
    assert meta.split_names[TEST] == f"{path} x_test"
    batch, labels = next(iter(factory(TEST, InputRequest(EVALUATE, 4, "image", ImageSpec(4, 4, 3)))()))
    assert batch["image"].shape == (4, 4, 4, 3) and len(labels) == 4


def test_features_are_one_input(tmp_path):
    path = str(tmp_path / "features.npz")
    np.savez(path, x_train=np.ones((10, 3), np.float64), y_train=np.zeros(10, np.int64))
    meta, _ = array_source.open(DataParams(source="arrays", array_file=path), 0, DEFAULT_OPTIONS)
    assert (meta.kind, meta.features) == (FEATURES, ((array_source.FEATURES_KEY, 3),))


def test_three_d_floats_are_refused_in_one_line(tmp_path):
    path = str(tmp_path / "cube.npz")
    cube, labels = np.ones((4, 2, 2), np.float32), np.zeros(4, np.int64)
    np.savez(path, x_train=cube, y_train=labels, x_val=cube, y_val=labels)
    with pytest.raises(UsageError, match=r"^--array_file: x_train float32 \(4, 2, 2\): want uint8 images or 2-D"):
        array_source.open(DataParams(source="arrays", array_file=path), 0, DEFAULT_OPTIONS)
