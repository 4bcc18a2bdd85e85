"""The restoration pairs: the bicubic downgrade and the seeded noise, and the sizes a scale needs."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from common.errors import UsageError
from common.params import DataParams
from input_fns import image_pairs
from input_fns.preprocessing import ImageSpec


def _clean(seed: int = 0) -> tf.Tensor:
    return tf.constant(np.random.default_rng(seed).uniform(size=(32, 32, 3)), tf.float32)


def test_the_downgrade_is_bicubic_with_antialiasing_by_the_scale():
    pair = image_pairs.pairing(DataParams(task="super_resolution", scale=4), seed=1)
    small = pair.corrupt(_clean(), tf.constant(0, tf.int64))
    expected = tf.image.resize(_clean(), (8, 8), method="bicubic", antialias=True)
    np.testing.assert_allclose(small.numpy(), np.clip(expected.numpy(), 0, 1), atol=1e-6)


def test_the_noise_is_seeded_per_image_and_clipped():
    pair = image_pairs.pairing(DataParams(task="denoising", noise_stddev=0.3), seed=5)
    first, again = (pair.corrupt(_clean(), tf.constant(3, tf.int64)).numpy() for _ in range(2))
    other = pair.corrupt(_clean(), tf.constant(4, tf.int64)).numpy()
    np.testing.assert_array_equal(first, again)  # every evaluation sees the same noisy image
    assert not np.array_equal(first, other)
    assert first.min() >= 0.0 and first.max() <= 1.0 and pair.scale == 1
    assert 0.2 < float(np.std(first - _clean().numpy())) < 0.3  # clipping trims some of the 0.3


def test_the_clean_label_is_at_scale_times_the_model_input():
    image = tf.constant(np.random.default_rng(2).integers(0, 256, (40, 40, 1)), tf.uint8)
    clean = image_pairs.clean_image(image, ImageSpec(16, 16, 3), scale=2)
    assert clean.shape == (32, 32, 3) and float(tf.reduce_max(clean)) <= 1.0


@pytest.mark.parametrize(("size", "words"), [(8, "at least 16"), (33, "divide by 2")])
def test_images_too_small_or_uneven_for_the_scale_are_refused(size, words):
    pair = image_pairs.pairing(DataParams(task="super_resolution", scale=2), seed=None)
    with pytest.raises(UsageError, match=f"'tiny' holds {size}x{size} images; --scale=2 needs .*{words}"):
        image_pairs.check_sizes("tiny", size, size, pair)
    image_pairs.check_sizes("fine", 32, 16, pair)
