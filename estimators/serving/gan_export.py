"""The GAN's export: the generator as a SavedModel whose serving signature takes noise and returns images.

``serving_default(noise: float32 [batch, NOISE_DIMS]) -> {"images": float32 [batch, H, W, C] in [0, 1]}``.
Written as the other exports are (export/serving/<timestamp>, atomically through a temporary folder).
"""

from __future__ import annotations

import tensorflow as tf

from common.names import SERVING_KEY
from estimators.models.dcgan import NOISE_DIMS, NOISE_NAME
from estimators.serving.keras_export import save_atomically

IMAGES_OUTPUT = "images"


def export_generator(generator: tf.keras.Model, export_base: str) -> str:
    """Write ``export_base/<timestamp>``; returns its path."""
    module = tf.Module()
    module.weights = list(generator.weights)

    @tf.function(input_signature=[tf.TensorSpec([None, NOISE_DIMS], tf.float32, name=NOISE_NAME)])
    def serve(noise):
        return {IMAGES_OUTPUT: generator(noise, training=False)}

    return save_atomically(module, export_base, {SERVING_KEY: serve.get_concrete_function()})
