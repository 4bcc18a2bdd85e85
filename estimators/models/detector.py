"""Single-stage detectors: a CNN's stride-4 and stride-8 features merged (a small FPN), the detection task's head.

``detector`` is a small CNN trained from scratch (CPU-sized); ``detector_mobilenet_v2``
takes the zoo's MobileNetV2 (alpha 0.35) as the backbone, ImageNet weights or none
(``--weights``). Either way the head (estimators/tasks/detection.py) predicts a
heatmap per class and a box per cell of the stride-4 grid the source encodes
its boxes on (input_fns/detection.py, STRIDE).
"""

from __future__ import annotations

import tensorflow as tf

from common.errors import UsageError
from estimators.models.spec import WEIGHTS_NONE, ModelSpec
from estimators.tasks.detection import PLUGIN as DETECTION

# MobileNetV2's layers at stride 4 and 8 (its expansions' activations, as TF's object detection API taps them).
_MOBILENET_TAPS = ("block_3_expand_relu", "block_6_expand_relu")


def _check(spec: ModelSpec, name: str) -> None:
    if spec.image is None:
        raise UsageError("model", f"'{name}' is an image model; the dataset has no images")


def _merge(stride4: tf.Tensor, stride8: tf.Tensor, width: int) -> tf.Tensor:
    """The stride-8 features upsampled onto the stride-4 ones (more context per cell), as an FPN's top-down path."""
    layers = tf.keras.layers
    top = layers.Conv2D(width, 1, activation="relu", name="fpn_top")(stride8)
    up = layers.UpSampling2D(2, interpolation="nearest", name="fpn_up")(top)
    lateral = layers.Conv2D(width, 1, activation="relu", name="fpn_lateral")(stride4)
    x = layers.Add(name="fpn_add")([up, lateral])
    return layers.Conv2D(width, 3, padding="same", activation="relu", name="fpn_smooth")(x)


def build_detector(spec: ModelSpec, base_filters: int = 32) -> tf.keras.Model:
    _check(spec, "detector")
    layers = tf.keras.layers
    inputs = tf.keras.Input(shape=spec.image.shape, name=spec.input_name)
    x = layers.Conv2D(base_filters, 3, strides=2, padding="same", activation="relu", name="stem_stride")(inputs)
    x = layers.Conv2D(base_filters, 3, strides=2, padding="same", activation="relu", name="down4_stride")(x)
    stride4 = layers.Conv2D(base_filters * 2, 3, padding="same", activation="relu", name="down4_conv")(x)
    x = layers.Conv2D(base_filters * 2, 3, strides=2, padding="same", activation="relu", name="down8_stride")(stride4)
    x = layers.Conv2D(base_filters * 2, 3, padding="same", activation="relu", name="down8_conv")(x)
    wide = {"padding": "same", "dilation_rate": 2, "activation": "relu"}  # context for the largest shapes
    stride8 = layers.Conv2D(base_filters * 2, 3, name="down8_wide", **wide)(x)
    merged = _merge(stride4, stride8, base_filters * 2)
    model = tf.keras.Model(inputs, DETECTION.head(merged, spec), name="detector")
    return DETECTION.compile(model, spec)


def build_detector_mobilenet_v2(spec: ModelSpec) -> tf.keras.Model:
    _check(spec, "detector_mobilenet_v2")
    weights = None if spec.weights == WEIGHTS_NONE else spec.weights
    base = tf.keras.applications.MobileNetV2(
        input_shape=spec.image.shape, alpha=0.35, include_top=False, weights=weights
    )
    base.trainable = spec.trainable_base or weights is None
    taps = tf.keras.Model(base.input, [base.get_layer(name).output for name in _MOBILENET_TAPS], name="backbone")
    inputs = tf.keras.Input(shape=spec.image.shape, name=spec.input_name)
    stride4, stride8 = taps(inputs)
    merged = _merge(stride4, stride8, 64)
    model = tf.keras.Model(inputs, DETECTION.head(merged, spec), name="detector_mobilenet_v2")
    return DETECTION.compile(model, spec)
