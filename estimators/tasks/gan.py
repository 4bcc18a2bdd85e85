"""The GAN (the GAN chapters): a DCGAN that learns to draw the training images; no head, labels unused.

The plug-in names its own engines (estimators/engines/gan.py: TF-GAN's GANEstimator, or the Keras
``Dcgan``'s two-optimiser train step), since a GAN is two models and two losses, not a head on one.
A prediction is an image from noise; the export (estimators/serving/gan_export.py) takes noise. The report
(gan_report.py) scores the samples with a Frechet distance against real held-out images and an
untrained generator.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from common import tasks
from common.params import TRAIN
from estimators.tasks import gan_report
from estimators.tasks.base import Evaluation, ReportData, TaskPlugin


class Gan(TaskPlugin):
    name = tasks.GAN
    tflite_labels = False
    tflite = False  # the converter rebuilds one model from the export; the export holds only the generator

    def outputs(self, output: tf.Tensor, class_names: tuple[str, ...]) -> dict[str, tf.Tensor]:
        return {self.task.output: tf.cast(output, tf.float32)}

    def engine_name(self, name: str) -> str:
        """Its own engines (estimators/engines/gan.py) for the estimator and keras engines; others refuse it."""
        return f"gan_{name}" if name in ("estimator", "keras") else name

    def evaluate(self, data: ReportData) -> Evaluation:
        train, held_out = _images(data.read(TRAIN), data.input_name), _images(data.read(data.role), data.input_name)
        trained, untrained = data.predictions[gan_report.TRAINED], data.predictions[gan_report.UNTRAINED]
        classes = len(data.class_names) or int(train[1].max()) + 1
        report = gan_report.build_report(train, held_out, trained, untrained, classes, data.split)
        write = lambda out: gan_report.write_report(report, out, held_out[0], trained, untrained)  # noqa: E731
        return Evaluation(report, write, gan_report, report.metrics())


def _images(input_fn, input_name: str) -> tuple[np.ndarray, np.ndarray]:
    """Every image of an input_fn and its class id (the feature classifier's label)."""
    images, labels = [], []
    for features, batch_labels in input_fn():
        images.append(features[input_name].numpy())
        labels.append(batch_labels.numpy().reshape(-1))
    return np.concatenate(images), np.concatenate(labels).astype(np.int64)


PLUGIN = Gan()
