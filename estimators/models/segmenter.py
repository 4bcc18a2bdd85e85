"""Deep Learning with Python's (ch. 9) segmentation model: a strided-conv encoder, a Conv2DTranspose decoder.

Three stride-2 stages down and three up, so the output has the input's size
and a softmax over the mask classes per pixel. The book's widths are 64-256
for 200x200 pets; ``base_filters`` (16 here) keeps CPU runs short.
"""

from __future__ import annotations

import tensorflow as tf

from common.errors import UsageError
from estimators.models.spec import ModelSpec
from estimators.tasks.segmentation import PLUGIN as SEGMENTATION

STAGES = 3  # each halves the size: inputs must divide by 2**STAGES (the registry's size_multiple)


def build_segmenter(spec: ModelSpec, base_filters: int = 16) -> tf.keras.Model:
    if spec.image is None:
        raise UsageError("model", "'segmenter' is an image model; the dataset has no images")
    layers = tf.keras.layers
    inputs = tf.keras.Input(shape=spec.image.shape, name=spec.input_name)
    x = inputs
    widths = [base_filters * 2**i for i in range(STAGES)]
    for i, width in enumerate(widths, start=1):
        x = layers.Conv2D(width, 3, strides=2, activation="relu", padding="same", name=f"down{i}_stride")(x)
        x = layers.Conv2D(width, 3, activation="relu", padding="same", name=f"down{i}_conv")(x)
    for i, width in enumerate(reversed(widths), start=1):
        x = layers.Conv2DTranspose(width, 3, activation="relu", padding="same", name=f"up{i}_conv")(x)
        x = layers.Conv2DTranspose(width, 3, strides=2, activation="relu", padding="same", name=f"up{i}_stride")(x)
    x = layers.Dropout(spec.dropout, name="head_dropout")(x)
    # The head, loss and metrics are the segmentation task's (a softmax per pixel, mean IoU).
    model = tf.keras.Model(inputs, SEGMENTATION.head(x, spec), name="segmenter")
    return SEGMENTATION.compile(model, spec)
