"""Super-resolution: the image from its bicubic downgrade (lecture 12: EDSR on DIV2K), PSNR and SSIM.

The input is the clean image shrunk ``--scale`` times (input_fns/image_pairs.py);
the model (estimators/models/edsr.py) gives it back at full size. L1 loss, as
EDSR trains. The baseline is bicubic upsampling of the input; the report
(restoration_report.py) sets PSNR and SSIM beside its.
"""

from __future__ import annotations

import tensorflow as tf

from common import tasks
from estimators.tasks.restoration import Restoration


class SuperResolution(Restoration):
    name = tasks.SUPER_RESOLUTION
    baseline_name = "bicubic upsampling"

    # EDSR's L1: sharper edges than the mean squared error, which favours the blur of an average.
    loss_class = tf.keras.losses.MeanAbsoluteError

    def baseline(self, inputs: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
        return tf.clip_by_value(tf.image.resize(tf.cast(inputs, tf.float32), size, method="bicubic"), 0.0, 1.0)


PLUGIN = SuperResolution()
