"""What users would pick instead of kestrel's pipeline, on the same image folder and augmentation.

- ``keras_generator``: ``ImageDataGenerator.flow_from_directory`` (what the course notes use):
  PIL decode and resize to the target size, then scipy's affine transform for the zoom, in Python,
  one image at a time on one thread.
- ``keras_layers``: ``tf.keras.utils.image_dataset_from_directory`` with Keras preprocessing layers
  mapped over its batches (RandomFlip, RandomZoom, RandomBrightness, RandomContrast, Rescaling),
  as the Keras guide's "apply it to the tf.data.Dataset" option recommends, prefetched.

The augmentation is kestrel's recipe in each library's terms: a horizontal flip, a zoom-in
of up to ``zoom`` (a crop of 1/(1+zoom) to 1 of each side, the image's aspect kept),
brightness and contrast by ``brightness``/``contrast``, then the "unit" normalisation (x / 255).
ImageDataGenerator has no contrast option: a ``preprocessing_function`` does it, as a user would.
Its brightness is a factor (PIL's ImageEnhance), Keras's and kestrel's a delta of the range.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator

import numpy as np
import tensorflow as tf

from common.params import AugmentParams
from input_fns.preprocessing import ImageSpec

KERAS_GENERATOR = "keras_generator"
KERAS_LAYERS = "keras_layers"
ALTERNATIVES = (KERAS_GENERATOR, KERAS_LAYERS)


def _zoom_in_fraction(zoom: float) -> float:
    """kestrel's zoom=z crops 1/(1+z)..1 of each side; Keras spells that zoom as a negative factor."""
    return 1.0 - 1.0 / (1.0 + zoom)


def keras_generator(
    image_dir: str, spec: ImageSpec, augment: AugmentParams, batch_size: int, seed: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """ImageDataGenerator.flow_from_directory: endless (x, y) NumPy batches, shuffled each epoch."""
    rng = np.random.default_rng(seed)

    def contrast(x: np.ndarray) -> np.ndarray:
        if augment.contrast <= 0:
            return x
        factor = rng.uniform(1 - augment.contrast, 1 + augment.contrast)
        mean = x.mean(axis=(0, 1), keepdims=True)
        return (x - mean) * factor + mean

    zoom = _zoom_in_fraction(augment.zoom)
    generator = tf.keras.preprocessing.image.ImageDataGenerator(
        rescale=1 / 255.0,
        horizontal_flip=augment.horizontal_flip,
        # A range [1 - z, 1]: sampling factors < 1 zooms in (the crop), as kestrel's zoom does.
        zoom_range=(1.0 - zoom, 1.0) if augment.zoom > 0 else 0.0,
        brightness_range=(1 - augment.brightness, 1 + augment.brightness) if augment.brightness > 0 else None,
        preprocessing_function=contrast,
    )
    with contextlib.redirect_stdout(io.StringIO()):  # "Found N images belonging to K classes."
        return generator.flow_from_directory(
            image_dir,
            target_size=(spec.height, spec.width),
            color_mode="rgb" if spec.channels == 3 else "grayscale",
            class_mode="sparse",
            batch_size=batch_size,
            shuffle=True,
            seed=seed,
            interpolation="bilinear",
        )


def augmentation_layers(augment: AugmentParams, seed: int) -> tf.keras.Sequential:
    layers = tf.keras.layers
    stack = []
    if augment.horizontal_flip:
        stack.append(layers.RandomFlip("horizontal", seed=seed))
    if augment.zoom > 0:
        stack.append(layers.RandomZoom((-_zoom_in_fraction(augment.zoom), 0.0), seed=seed))
    if augment.brightness > 0:
        stack.append(layers.RandomBrightness(augment.brightness, value_range=(0, 255), seed=seed))
    if augment.contrast > 0:
        stack.append(layers.RandomContrast(augment.contrast, seed=seed))
    stack.append(layers.Rescaling(1 / 255.0))
    return tf.keras.Sequential(stack, name="augmentation")


def keras_layers(
    image_dir: str, spec: ImageSpec, augment: AugmentParams, batch_size: int, seed: int
) -> tf.data.Dataset:
    """image_dataset_from_directory + preprocessing layers: endless full (images, labels) batches."""
    with contextlib.redirect_stdout(io.StringIO()):  # "Found N files belonging to K classes."
        ds = tf.keras.utils.image_dataset_from_directory(
            image_dir,
            labels="inferred",
            label_mode="int",
            color_mode="rgb" if spec.channels == 3 else "grayscale",
            batch_size=batch_size,
            image_size=(spec.height, spec.width),
            shuffle=True,
            seed=seed,
        )
    # Full batches only, epoch after epoch (each repeat reshuffles), like kestrel's TRAIN pipeline.
    ds = ds.take(len(ds.file_paths) // batch_size).repeat()
    augmentation = augmentation_layers(augment, seed)
    ds = ds.map(lambda x, y: (augmentation(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
