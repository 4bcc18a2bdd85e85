"""Draw images from an exported GAN generator: seeded noise in, a PNG per sample and a grid of them out.

``scripts.predict --export_dir=<a GAN export> --samples=N --seed=S --output_dir=DIR`` writes
``DIR/sample_<i>.png`` (the image at the generator's size, uint8) and ``DIR/samples.png`` (them
tiled, eight a row). The same seed draws the same noise, so the same images from one export.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from common.errors import UsageError
from estimators.models.dcgan import NOISE_NAME
from estimators.serving.gan_export import IMAGES_OUTPUT
from estimators.serving.predict import export_signature

GRID_PNG = "samples.png"
PER_ROW = 8


def is_generator(signature) -> bool:
    return NOISE_NAME in signature.structured_input_signature[1]


def predict_samples(export_dir: str, count: int, seed: int, output_dir: str | None) -> list[str]:
    """Writes ``count`` samples and their grid into ``output_dir``; returns the paths written, the grid last."""
    signature = export_signature(export_dir)
    if not is_generator(signature):
        raise UsageError("samples", f"'{export_dir}' takes no '{NOISE_NAME}': --samples draws from a GAN's export")
    if not output_dir:
        raise UsageError("output_dir", "--samples writes PNGs: name the folder for them")
    dims = signature.structured_input_signature[1][NOISE_NAME].shape[-1]
    noise = np.random.default_rng(seed).standard_normal((count, dims)).astype(np.float32)
    images = signature(**{NOISE_NAME: tf.constant(noise)})[IMAGES_OUTPUT].numpy()
    pixels = np.round(np.clip(images, 0.0, 1.0) * 255).astype(np.uint8)
    tf.io.gfile.makedirs(output_dir)
    paths = [_write_png(os.path.join(output_dir, f"sample_{i:03d}.png"), image) for i, image in enumerate(pixels)]
    return [*paths, _write_png(os.path.join(output_dir, GRID_PNG), tile(pixels))]


def tile(images: np.ndarray, per_row: int = PER_ROW) -> np.ndarray:
    """[n, H, W, C] -> one image of rows of ``per_row`` (the last row padded with black), 1 px apart."""
    count, height, width, channels = images.shape
    rows = -(-count // per_row)
    cols = min(count, per_row)
    out = np.zeros((rows * (height + 1) - 1, cols * (width + 1) - 1, channels), images.dtype)
    for i, image in enumerate(images):
        top, left = (i // per_row) * (height + 1), (i % per_row) * (width + 1)
        out[top : top + height, left : left + width] = image
    return out


def _write_png(path: str, pixels: np.ndarray) -> str:
    with tf.io.gfile.GFile(path, "wb") as f:
        f.write(tf.io.encode_png(pixels).numpy())
    return path
