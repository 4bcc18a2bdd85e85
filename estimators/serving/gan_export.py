"""The GAN's export: the generator as a SavedModel whose serving signature takes noise and returns images.

``serving_default(noise: float32 [batch, NOISE_DIMS]) -> {"images": float32 [batch, H, W, C] in [0, 1]}``.
Written as the other exports are (export/serving/<timestamp>, atomically through a temporary folder).
"""

from __future__ import annotations

import os
import time

import tensorflow as tf

from estimators.models.dcgan import NOISE_DIMS, NOISE_NAME
from estimators.serving.keras_export import TEMP_PREFIX

IMAGES_OUTPUT = "images"


def export_generator(generator: tf.keras.Model, export_base: str) -> str:
    """Write ``export_base/<timestamp>``; returns its path."""
    export_dir = os.path.join(export_base, str(int(time.time())))
    while tf.io.gfile.exists(export_dir):
        time.sleep(1)
        export_dir = os.path.join(export_base, str(int(time.time())))
    temp_dir = os.path.join(export_base, TEMP_PREFIX + os.path.basename(export_dir))
    module = tf.Module()
    module.weights = list(generator.weights)

    @tf.function(input_signature=[tf.TensorSpec([None, NOISE_DIMS], tf.float32, name=NOISE_NAME)])
    def serve(noise):
        return {IMAGES_OUTPUT: generator(noise, training=False)}

    try:
        tf.saved_model.save(module, temp_dir, signatures={"serving_default": serve.get_concrete_function()})
        tf.io.gfile.rename(temp_dir, export_dir)
    except BaseException:
        if tf.io.gfile.exists(temp_dir):
            tf.io.gfile.rmtree(temp_dir)
        raise
    return export_dir
