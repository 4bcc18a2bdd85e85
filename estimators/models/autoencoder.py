"""A convolutional denoising autoencoder: a strided encoder to a code, a transposed-convolution decoder.

Two stride-2 stages take a [h, w, c] image to its code, a [h/4, w/4, 32]
feature map (the ``code`` layer, which the export also serves as a feature
extractor); two Conv2DTranspose stages and a sigmoid give the image back in
[0, 1]. Sides must divide by 4 (the registry's size_multiple).
"""

from __future__ import annotations

import tensorflow as tf

from common.errors import UsageError
from estimators.models.spec import ModelSpec
from estimators.tasks import compile_for_task, task_head

CODE_LAYER = "code"
STAGES = 2


def build_denoiser(spec: ModelSpec, filters: int = 32, code_channels: int = 32) -> tf.keras.Model:
    if spec.image is None:
        raise UsageError("model", "'denoiser' is an image model; the dataset has no images")
    layers = tf.keras.layers
    channels = spec.image.channels
    inputs = tf.keras.Input(shape=spec.image.shape, name=spec.input_name)
    x = inputs
    for i in range(STAGES):
        x = layers.Conv2D(filters * 2**i, 3, strides=2, padding="same", activation="relu", name=f"encode{i + 1}")(x)
    code = layers.Conv2D(code_channels, 3, padding="same", activation="relu", name=CODE_LAYER)(x)
    x = code
    for i in reversed(range(STAGES)):
        x = layers.Conv2DTranspose(
            filters * 2**i, 3, strides=2, padding="same", activation="relu", name=f"decode{STAGES - i}"
        )(x)
    image = layers.Conv2D(channels, 3, padding="same", activation="sigmoid", name="restored")(x)
    model = tf.keras.Model(inputs, task_head(image, spec), name="denoiser")
    return compile_for_task(model, spec)
