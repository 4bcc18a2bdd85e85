"""Denoising autoencoder: the clean image from a noisy copy (the autoencoder chapters), MSE and PSNR.

The input is the clean image plus seeded Gaussian noise of ``--noise_stddev``
(input_fns/image_pairs.py); the model (estimators/models/autoencoder.py) is a
convolutional encoder and decoder whose code (its ``code`` layer) is also
exported as a feature extractor (the model's registry entry names that export). The baseline is the noisy input itself.
"""

from __future__ import annotations

import tensorflow as tf

from common import tasks
from estimators.tasks.restoration import Restoration


class Denoising(Restoration):
    name = tasks.DENOISING
    baseline_name = "the noisy input"
    loss_class = tf.keras.losses.MeanSquaredError

    def baseline(self, inputs: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
        return tf.cast(inputs, tf.float32)


PLUGIN = Denoising()
