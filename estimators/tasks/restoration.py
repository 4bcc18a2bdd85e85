"""What the image-restoration tasks share: an image in [0, 1] out, PSNR (and SSIM) as metrics, a baseline.

super_resolution and denoising learn the clean image from a corrupted copy
(input_fns/image_pairs.py makes the pairs). Each is a ``Restoration`` with its
loss, its metrics and its baseline: what the corrupted input alone gives
(bicubic upsampling; the noisy image itself). The report (restoration_report.py)
sets the model's figures beside the baseline's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import tensorflow as tf

from estimators.tasks import restoration_report
from estimators.tasks.base import Evaluation, ReportData, TaskPlugin

if TYPE_CHECKING:
    from estimators.models.spec import ModelSpec

PIXELS_OUTPUT = "pixels"  # the output image as uint8, beside the float one the record names


def psnr(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
    """Peak signal-to-noise ratio per image (dB), pixels in [0, 1]; the prediction clipped as it is served."""
    return tf.image.psnr(tf.cast(y_true, tf.float32), tf.clip_by_value(tf.cast(y_pred, tf.float32), 0.0, 1.0), 1.0)


def ssim(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
    """Structural similarity per image (tf.image.ssim's 11x11 Gaussian window), pixels in [0, 1]."""
    return tf.image.ssim(tf.cast(y_true, tf.float32), tf.clip_by_value(tf.cast(y_pred, tf.float32), 0.0, 1.0), 1.0)


class Restoration(TaskPlugin):
    """An image back from a corrupted copy. Subclasses set ``name``, ``loss_class`` and ``baseline``."""

    tflite_labels = False  # an image out, no classes to name
    baseline_name = ""  # how the report names the baseline
    loss_class: type[tf.keras.losses.Loss]  # the pixel loss, the same for every model of the task

    def loss(self, spec: ModelSpec) -> str | tf.keras.losses.Loss:
        return self.loss_class()

    def head(self, x: tf.Tensor, spec: ModelSpec, l2: float | None = None) -> tf.Tensor:
        """The model's image as it is, under the record's output name, in float32 (the model makes the pixels)."""
        return tf.keras.layers.Activation("linear", dtype="float32", name=self.task.output)(x)

    def metrics(self, spec: ModelSpec) -> list[tf.keras.metrics.Metric]:
        wrap = tf.keras.metrics.MeanMetricWrapper
        found = {"psnr": lambda: wrap(psnr, name="psnr"), "ssim": lambda: wrap(ssim, name="ssim")}
        return [found[name]() for name in self.task.metrics if name in found]

    def outputs(self, output: tf.Tensor, class_names: tuple[str, ...]) -> dict[str, tf.Tensor]:
        """The image in [0, 1] (float32, the record's output) and as uint8 pixels."""
        image = tf.clip_by_value(tf.cast(output, tf.float32), 0.0, 1.0)
        return {self.task.output: image, PIXELS_OUTPUT: tf.cast(tf.round(image * 255.0), tf.uint8)}

    def batch_metric(self, labels: tf.Tensor, predictions: tf.Tensor) -> tf.Tensor | None:
        return tf.reduce_mean(psnr(labels, predictions))

    def baseline(self, inputs: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
        """What the corrupted ``inputs`` give without a model, at the clean images' ``size``."""
        raise NotImplementedError

    def evaluate(self, data: ReportData) -> Evaluation:
        scores = {"model": [], "baseline": []}
        samples = None
        start = 0
        for features, clean in data.read(data.role)():
            inputs = features[data.input_name]
            predicted = tf.constant(data.predictions[start : start + len(clean)])
            baseline = self.baseline(inputs, tuple(clean.shape[1:3]))
            for key, image in (("model", predicted), ("baseline", baseline)):
                scores[key].append(_scores(clean, image))
            if samples is None:
                k = min(restoration_report.SAMPLES, len(clean))
                samples = tuple(np.clip(t[:k].numpy(), 0, 1) for t in (inputs, baseline, predicted, clean))
            start += len(clean)
        report = restoration_report.build_report(
            self.name, data.split, self.baseline_name, *(np.concatenate(scores[k], axis=1) for k in scores)
        )
        write = lambda out: restoration_report.write_report(report, out, samples)  # noqa: E731
        return Evaluation(report, write, restoration_report, report.metrics())


def _scores(clean: tf.Tensor, image: tf.Tensor) -> np.ndarray:
    """[3, batch]: PSNR, SSIM and the mean squared error of each image against its clean one."""
    clean = tf.cast(clean, tf.float32)
    image = tf.clip_by_value(tf.cast(image, tf.float32), 0.0, 1.0)
    mse = tf.reduce_mean(tf.square(clean - image), axis=[1, 2, 3])
    return np.stack([psnr(clean, image).numpy(), ssim(clean, image).numpy(), mse.numpy()])
