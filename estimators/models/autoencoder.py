"""A convolutional denoising autoencoder: a strided encoder to a code, a transposed-convolution decoder.

Two stride-2 stages take a [h, w, c] image to its code, a [h/4, w/4, 32]
feature map (the ``code`` layer, which the export also serves as a feature
extractor); two Conv2DTranspose stages and a sigmoid give the image back in
[0, 1]. Sides must divide by 4 (the registry's size_multiple).
"""

from __future__ import annotations

import os

import tensorflow as tf

from common.errors import UsageError
from common.names import SERVING_KEY
from estimators.models.spec import ModelSpec
from estimators.serving import receivers as serving
from estimators.tasks import compile_for_task, task_head
from input_fns.preprocessing import UNIT, ImageSpec

CODE_LAYER = "code"
ENCODER_EXPORT = "encoder"  # <model_dir>/export/encoder/<timestamp>: the feature extractor
STAGES = 2
FILTERS, CODE_CHANNELS = 32, 32


def _encoder(inputs: tf.Tensor, filters: int, code_channels: int) -> tf.Tensor:
    x = inputs
    for i in range(STAGES):
        x = tf.keras.layers.Conv2D(
            filters * 2**i, 3, strides=2, padding="same", activation="relu", name=f"encode{i + 1}"
        )(x)
    return tf.keras.layers.Conv2D(code_channels, 3, padding="same", activation="relu", name=CODE_LAYER)(x)


def build_denoiser(spec: ModelSpec, filters: int = FILTERS, code_channels: int = CODE_CHANNELS) -> tf.keras.Model:
    if spec.image is None:
        raise UsageError("model", "'denoiser' is an image model; the dataset has no images")
    layers = tf.keras.layers
    inputs = tf.keras.Input(shape=spec.image.shape, name=spec.input_name)
    x = _encoder(inputs, filters, code_channels)
    for i in reversed(range(STAGES)):
        x = layers.Conv2DTranspose(
            filters * 2**i, 3, strides=2, padding="same", activation="relu", name=f"decode{STAGES - i}"
        )(x)
    image = layers.Conv2D(spec.image.channels, 3, padding="same", name="restored")(x)
    model = tf.keras.Model(inputs, task_head(image, spec), name="denoiser")
    return compile_for_task(model, spec)


def export_encoder(serving_dir: str) -> str:
    """The encoder of the denoiser exported at ``serving_dir`` (either engine's), as a SavedModel of its own.

    Written beside the serving exports, as ``<model_dir>/export/encoder/<the same timestamp>``. Its
    ``serving_default`` takes ``image_bytes`` (resized and scaled in its graph, as the serving export does)
    and its ``float_images:serving_default`` takes ``images`` in [0, 1]; both return ``code``, the
    [batch, h/4, w/4, 32] feature map, and ``features``, its mean over the image (one vector per image).
    """
    loaded = tf.saved_model.load(serving_dir)
    # The Estimator's export (a TF1 graph) lists its variables; the Keras engine's tracks them as weights.
    stored = {v.name: v for v in (getattr(loaded, "variables", None) or loaded.weights)}
    (float_input,) = loaded.signatures[serving.FLOAT_SIGNATURE].structured_input_signature[1].values()
    image = ImageSpec(*float_input.shape[1:], preprocessing=UNIT)
    inputs = tf.keras.Input(shape=image.shape)
    encoder = tf.keras.Model(inputs, _encoder(inputs, FILTERS, CODE_CHANNELS), name="encoder")
    for weight in encoder.weights:
        weight.assign(stored[weight.name])

    def encode(images: tf.Tensor) -> dict[str, tf.Tensor]:
        code = encoder(images, training=False)
        return {CODE_LAYER: code, "features": tf.reduce_mean(code, axis=[1, 2])}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=serving.BYTES_INPUT)])
    def serve_bytes(image_bytes):
        return encode(serving.decode_batch(image_bytes, image))

    @tf.function(input_signature=[tf.TensorSpec([None, *image.shape], tf.float32, name=serving.FLOAT_INPUT)])
    def serve_float(images):
        return encode(images)

    module = tf.Module()
    module.weights = list(encoder.weights)
    export_dir = os.path.join(
        os.path.dirname(os.path.dirname(serving_dir)), ENCODER_EXPORT, os.path.basename(serving_dir)
    )
    signatures = {
        SERVING_KEY: serve_bytes.get_concrete_function(),
        serving.FLOAT_SIGNATURE: serve_float.get_concrete_function(),
    }
    tf.saved_model.save(module, export_dir, signatures=signatures)
    return export_dir
