"""Serving inputs: the SavedModel takes encoded image bytes and prepares them in-graph.

Every image export has two signatures with the same outputs (probabilities,
class_ids, class_names): ``serving_default`` on encoded bytes (decode, resize
and the backbone's normalisation happen in the graph) and ``FLOAT_SIGNATURE``
on float images already prepared as the model's input layer expects.
Tabular exports take one float tensor per feature, raw as recorded: the training rows'
standardisation is part of the graph. Forecasting exports take ``window``, a float32
[batch, steps, columns] of raw values (the model standardises it and gives the forecast in the
target's units); ``assets.extra/series.json`` says which columns, how sampled, how far ahead.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import tensorflow as tf

from common.names import ASSETS_EXTRA, LABELS_FILE, SERVING_KEY
from input_fns.preprocessing import ImageSpec, decode_image, prepare_image
from input_fns.timeseries_source import WINDOW_INPUT, SeriesSpec

FLOAT_RECEIVER = "float_images"
FLOAT_INPUT = "images"
# The Estimator names an alternative receiver's signature "<receiver>:<output key>".
FLOAT_SIGNATURE = f"{FLOAT_RECEIVER}:{SERVING_KEY}"
BYTES_INPUT = "image_bytes"
SERIES_FILE = "series.json"  # beside the labels file: the window a forecasting export takes


def decode_batch(image_bytes: tf.Tensor, image: ImageSpec) -> tf.Tensor:
    """[batch] encoded images -> [batch, height, width, channels] float model inputs.

    The output signature carries the image shape: map_fn over an empty batch stacks
    no elements, and without it returns shape [0], which the first convolution rejects;
    with it an empty batch is [0, height, width, channels] and serves empty outputs.
    """

    def prepare_one(encoded: tf.Tensor) -> tf.Tensor:
        return prepare_image(decode_image(encoded, image.channels), image)

    return tf.map_fn(prepare_one, image_bytes, fn_output_signature=tf.TensorSpec(image.shape, tf.float32))


def pad_empty_batch(features: dict[str, tf.Tensor]) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
    """An empty batch replaced by one zero row (the others unchanged), and the real batch size.

    TF 2.15's oneDNN convolution returns its input's shape for a batch of 0, so a
    model fails on an empty request; it runs on the padded batch instead, and
    ``outputs[:rows]`` gives the empty result of the right shape and dtype.
    """
    rows = tf.shape(next(iter(features.values())))[0]

    def padded(tensor: tf.Tensor) -> tf.Tensor:
        zero_row = tf.zeros([1, *tensor.shape[1:]], tensor.dtype)
        return tf.cond(rows > 0, lambda: tensor, lambda: zero_row)

    return {name: padded(tensor) for name, tensor in features.items()}, rows


def image_bytes_receiver_fn(
    input_name: str, image: ImageSpec
) -> Callable[[], tf.estimator.export.ServingInputReceiver]:
    """Receiver for a batch of PNG/JPEG/BMP/GIF bytes under ``image_bytes``, and float images beside it."""

    def receiver_fn() -> tf.estimator.export.ServingInputReceiver:
        image_bytes = tf.compat.v1.placeholder(tf.string, shape=[None], name=BYTES_INPUT)
        images = decode_batch(image_bytes, image)
        # The float signature feeds the prepared-images tensor directly, which
        # cuts the decoding off its graph.
        return tf.estimator.export.ServingInputReceiver(
            {input_name: images},
            {BYTES_INPUT: image_bytes},
            receiver_tensors_alternatives={FLOAT_RECEIVER: {FLOAT_INPUT: images}},
        )

    return receiver_fn


def standardized(tensors: dict[str, tf.Tensor], scaling: tuple[tuple[str, float, float], ...]) -> dict[str, tf.Tensor]:
    """Raw feature values -> what the model was trained on: standardised with the training rows' statistics."""
    by_name = {name: (mean, std) for name, mean, std in scaling}
    return {
        name: (tensor - by_name[name][0]) / by_name[name][1] if name in by_name else tensor
        for name, tensor in tensors.items()
    }


def features_receiver_fn(
    features: tuple[tuple[str, int], ...],
    scaling: tuple[tuple[str, float, float], ...] = (),
) -> Callable[[], tf.estimator.export.ServingInputReceiver]:
    """Receiver for tabular models: one float32 [batch, width] input per named feature, as recorded (raw)."""

    def receiver_fn() -> tf.estimator.export.ServingInputReceiver:
        tensors = {
            name: tf.compat.v1.placeholder(tf.float32, shape=[None, width], name=name) for name, width in features
        }
        return tf.estimator.export.ServingInputReceiver(standardized(tensors, scaling), tensors)

    return receiver_fn


def series_receiver_fn(series: SeriesSpec) -> Callable[[], tf.estimator.export.ServingInputReceiver]:
    """Receiver for forecasting models: ``window``, float32 [batch, steps, columns] of raw values."""

    def receiver_fn() -> tf.estimator.export.ServingInputReceiver:
        window = tf.compat.v1.placeholder(tf.float32, shape=[None, *series.shape], name=WINDOW_INPUT)
        return tf.estimator.export.ServingInputReceiver({WINDOW_INPUT: window}, {WINDOW_INPUT: window})

    return receiver_fn


def text_receiver_fn(input_name: str) -> Callable[[], tf.estimator.export.ServingInputReceiver]:
    """Receiver for text models: a batch of raw strings, [batch], which the model tokenises itself."""

    def receiver_fn() -> tf.estimator.export.ServingInputReceiver:
        texts = tf.compat.v1.placeholder(tf.string, shape=[None], name=input_name)
        return tf.estimator.export.ServingInputReceiver({input_name: texts}, {input_name: texts})

    return receiver_fn


def write_series(directory: str, series: SeriesSpec) -> str:
    tf.io.gfile.makedirs(directory)
    path = os.path.join(directory, SERIES_FILE)
    with tf.io.gfile.GFile(path, "w") as f:
        json.dump(series.to_json(), f, indent=2)
    return path


def read_series(export_dir: str) -> SeriesSpec | None:
    """The window a forecasting export takes; None for another export."""
    path = os.path.join(export_dir, ASSETS_EXTRA, SERIES_FILE)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return SeriesSpec.from_json(json.load(f))


def export_assets(directory: str, how) -> dict[str, str]:
    """The files an Estimator exporter copies into assets.extra: the labels, and a forecast's series.json."""
    assets = {LABELS_FILE: write_labels(directory, how.class_names)}
    if how.series is not None:
        assets[SERIES_FILE] = write_series(directory, how.series)
    return assets


def write_labels(directory: str, class_names: tuple[str, ...]) -> str:
    """Write one class name a line; returns the path, for an exporter's assets_extra."""
    tf.io.gfile.makedirs(directory)
    path = os.path.join(directory, LABELS_FILE)
    with tf.io.gfile.GFile(path, "w") as f:
        f.write("".join(f"{name}\n" for name in class_names))
    return path


def read_labels(export_dir: str) -> tuple[str, ...]:
    path = os.path.join(export_dir, ASSETS_EXTRA, LABELS_FILE)
    with tf.io.gfile.GFile(path) as f:
        return tuple(line.strip() for line in f if line.strip())
