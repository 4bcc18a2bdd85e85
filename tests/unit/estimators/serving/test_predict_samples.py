"""The sample grid scripts.predict writes for a GAN export."""

from __future__ import annotations

import numpy as np
import pytest

from estimators.serving import predict_samples

pytestmark = pytest.mark.small


def test_tile_puts_eight_a_row_one_pixel_apart():
    images = np.full((10, 2, 3, 1), 200, np.uint8)
    tiled = predict_samples.tile(images)
    assert tiled.shape == (2 * 3 - 1, 8 * 4 - 1, 1)
    assert tiled[0, 3, 0] == 0 and tiled[2, 0, 0] == 0, "the gaps between cells are black"
    assert tiled[3, 4, 0] == 200 and tiled[3, 8, 0] == 0, "the second row holds two images, then padding"


def test_fewer_than_a_row_is_as_wide_as_the_images():
    assert predict_samples.tile(np.ones((3, 4, 4, 3), np.uint8)).shape == (4, 14, 3)
