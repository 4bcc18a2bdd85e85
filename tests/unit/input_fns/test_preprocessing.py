"""Images become model inputs: channels, size and each convention's normalisation (all backbones: test_zoo.py)."""

import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from common.errors import UsageError
from input_fns.preprocessing import ImageSpec, decode_image, prepare_image

pytestmark = pytest.mark.medium


def _encoded(array: np.ndarray, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt)
    return buffer.getvalue()


def test_grayscale_becomes_rgb_and_is_resized():
    gray = tf.constant(np.full((8, 8, 1), 255, np.uint8))
    out = prepare_image(gray, ImageSpec(32, 32, 3, "unit"))
    assert out.shape == (32, 32, 3) and out.dtype == tf.float32
    np.testing.assert_allclose(out.numpy(), 1.0, atol=1e-6)


@pytest.mark.parametrize(
    "preprocessing,low,high",
    [("unit", 0.0, 1.0), ("tf", -1.0, 1.0), ("raw", 0.0, 255.0)],
)
def test_value_ranges(preprocessing, low, high):
    ramp = tf.constant(np.stack([np.array([[0, 255]], np.uint8)] * 3, axis=-1))
    out = prepare_image(ramp, ImageSpec(1, 2, 3, preprocessing)).numpy()
    assert out.min() == pytest.approx(low) and out.max() == pytest.approx(high)


def test_caffe_is_bgr_minus_mean():
    pixel = tf.constant(np.array([[[255, 0, 0]]], np.uint8))  # pure red
    out = prepare_image(pixel, ImageSpec(1, 1, 3, "caffe")).numpy()[0, 0]
    np.testing.assert_allclose(out, [-103.939, -116.779, 255 - 123.68], atol=1e-3)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "BMP", "GIF"])
def test_decode_forces_channels(fmt):
    rgb = np.random.default_rng(0).integers(0, 255, (5, 7, 3), dtype=np.uint8)
    image = decode_image(tf.constant(_encoded(rgb, fmt)), channels=1)
    assert image.shape == (5, 7, 1) and image.dtype == tf.uint8


def test_rgba_drops_alpha():
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 200
    out = prepare_image(tf.constant(rgba), ImageSpec(4, 4, 3)).numpy()
    assert out.shape == (4, 4, 3)
    np.testing.assert_allclose(out[..., 0], 200 / 255, atol=1e-6)
    np.testing.assert_allclose(out[..., 1:], 0.0)


def test_unknown_preprocessing_is_a_usage_error():
    with pytest.raises(UsageError, match="allowed: caffe, raw, tf, torch, unit"):
        ImageSpec(8, 8, 3, "imagenet")
