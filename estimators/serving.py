"""Serving inputs: the SavedModel takes encoded image bytes and prepares them in-graph."""

from __future__ import annotations

import os
from collections.abc import Callable

import tensorflow as tf

from input_fns.preprocessing import ImageSpec, decode_image, prepare_image

LABELS_FILE = "labels.txt"


def image_bytes_receiver_fn(
    input_name: str, image: ImageSpec
) -> Callable[[], tf.estimator.export.ServingInputReceiver]:
    """Receiver for a batch of PNG/JPEG/BMP/GIF bytes under the input ``image_bytes``."""

    def receiver_fn() -> tf.estimator.export.ServingInputReceiver:
        image_bytes = tf.compat.v1.placeholder(tf.string, shape=[None], name="image_bytes")

        def prepare_one(encoded: tf.Tensor) -> tf.Tensor:
            return prepare_image(decode_image(encoded, image.channels), image)

        images = tf.map_fn(prepare_one, image_bytes, fn_output_signature=tf.float32)
        images.set_shape([None, *image.shape])
        return tf.estimator.export.ServingInputReceiver({input_name: images}, {"image_bytes": image_bytes})

    return receiver_fn


def write_labels(directory: str, class_names: tuple[str, ...]) -> str:
    """Write one class name a line; returns the path, for an exporter's assets_extra."""
    tf.io.gfile.makedirs(directory)
    path = os.path.join(directory, LABELS_FILE)
    with tf.io.gfile.GFile(path, "w") as f:
        f.write("".join(f"{name}\n" for name in class_names))
    return path
