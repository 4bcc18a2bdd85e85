"""An EDSR-style super-resolution model (Lim et al. 2017; lecture 12): residual blocks, then sub-pixel upsampling.

A 3x3 convolution to ``filters`` features, ``blocks`` residual blocks
(conv-ReLU-conv, scaled by 0.1 as EDSR scales them, no batch norm), a global
skip around them, and post-upsampling: a convolution to ``filters * 4``
channels rearranged by ``depth_to_space`` into twice the size, once per factor
of 2 of the scale. The detail it learns is added to the input's bicubic
upsampling (a global skip in the image space, as VDSR has), so a short run
starts at the baseline and improves on it. EDSR's 64 filters and 16 blocks are
cut to 32 and 4 for CPU runs.
"""

from __future__ import annotations

import math

import tensorflow as tf

from common.errors import UsageError
from estimators.models.spec import ModelSpec
from estimators.tasks import compile_for_task, task_head

RESIDUAL_SCALE = 0.1


def _residual_block(x: tf.Tensor, filters: int, name: str) -> tf.Tensor:
    layers = tf.keras.layers
    y = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"{name}_conv1")(x)
    y = layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv2")(y)
    y = layers.Rescaling(RESIDUAL_SCALE, name=f"{name}_scale")(y)
    return layers.Add(name=f"{name}_add")([x, y])


def build_edsr(spec: ModelSpec, filters: int = 32, blocks: int = 4) -> tf.keras.Model:
    if spec.image is None:
        raise UsageError("model", "'edsr' is an image model; the dataset has no images")
    if spec.scale not in (2, 4):
        raise UsageError(
            "scale", f"'edsr' upsamples by 2 or 4; got {spec.scale} (train it with --task=super_resolution)"
        )
    layers = tf.keras.layers
    height, width, channels = spec.image.shape
    inputs = tf.keras.Input(shape=spec.image.shape, name=spec.input_name)
    head = layers.Conv2D(filters, 3, padding="same", name="head_conv")(inputs)
    x = head
    for i in range(blocks):
        x = _residual_block(x, filters, f"block{i + 1}")
    x = layers.Conv2D(filters, 3, padding="same", name="body_conv")(x)
    x = layers.Add(name="body_skip")([head, x])
    for i in range(int(math.log2(spec.scale))):
        x = layers.Conv2D(filters * 4, 3, padding="same", name=f"upsample{i + 1}_conv")(x)
        x = layers.Lambda(tf.nn.depth_to_space, arguments={"block_size": 2}, name=f"upsample{i + 1}_shuffle")(x)
    detail = layers.Conv2D(channels, 3, padding="same", name="tail_conv")(x)
    bicubic = layers.Resizing(height * spec.scale, width * spec.scale, "bicubic", name="bicubic")(inputs)
    image = layers.Add(name="restored")([bicubic, detail])
    model = tf.keras.Model(inputs, task_head(image, spec), name="edsr")
    return compile_for_task(model, spec)
