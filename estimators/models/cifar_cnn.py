"""The CIFAR-10 CNNs of the course notes: the "basic" model and its deeper variant.

Both take 32x32x3 images (or any size at least 8x8; the digits are upsampled).
"""

from __future__ import annotations

import tensorflow as tf

from common.errors import UsageError
from common.params import CNN_AUGMENTATIONS as AUGMENTATIONS
from estimators.models.spec import ModelSpec
from estimators.tasks.classification import classifier_head, compile_classifier

_MIN_SIZE = 8  # three 2x2 poolings


def _check(spec: ModelSpec, model: str) -> None:
    if spec.image is None:
        raise UsageError("model", f"'{model}' is an image model; the dataset has no images")
    if min(spec.image.height, spec.image.width) < _MIN_SIZE:
        raise UsageError("image_size", f"'{model}' needs images of at least {_MIN_SIZE}x{_MIN_SIZE}")
    if spec.augment not in AUGMENTATIONS:
        raise UsageError("augment", f"unknown augmentation '{spec.augment}'; allowed: {', '.join(AUGMENTATIONS)}")


def _augment(x: tf.Tensor, spec: ModelSpec) -> tf.Tensor:
    # Keras's random layers act only when training=True, so evaluation and the
    # exported model see the images as they are.
    layers = tf.keras.layers
    if spec.augment == "flip_shift":
        x = layers.RandomFlip("horizontal", seed=1, name="augment_flip")(x)
    if spec.augment in ("shift", "flip_shift"):
        x = layers.RandomTranslation(0.1, 0.1, fill_mode="nearest", seed=2, name="augment_shift")(x)
    return x


def _inputs(spec: ModelSpec, model: str) -> tuple[tf.Tensor, tf.Tensor]:
    """The checked model's image input, and the images augmented as ``spec`` asks."""
    _check(spec, model)
    inputs = tf.keras.Input(shape=spec.image.shape, name=spec.input_name)
    return inputs, _augment(inputs, spec)


def _classifier(inputs: tf.Tensor, features: tf.Tensor, spec: ModelSpec, model: str) -> tf.keras.Model:
    return compile_classifier(tf.keras.Model(inputs, classifier_head(features, spec), name=model), spec)


def build_basic_cnn(spec: ModelSpec) -> tf.keras.Model:
    """Conv 16/32/64 (3x3, same, LeakyReLU 0.02), each followed by 2x2 max pooling; Dense 256; softmax."""
    inputs, x = _inputs(spec, "basic_cnn")
    layers = tf.keras.layers
    for i, filters in enumerate((16, 32, 64), start=1):
        x = layers.Conv2D(filters, 3, padding="same", name=f"conv{i}")(x)
        x = layers.LeakyReLU(0.02, name=f"conv{i}_lrelu")(x)
        x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(256, name="dense")(x)
    x = layers.LeakyReLU(0.02, name="dense_lrelu")(x)
    x = layers.Dropout(spec.dropout, name="dense_dropout")(x)
    return _classifier(inputs, x, spec, "basic_cnn")


def build_deep_cnn(spec: ModelSpec) -> tf.keras.Model:
    """Three blocks of two Conv-BatchNorm-ReLU (32/64/128), max pooling and dropout; Dense 256; softmax."""
    inputs, x = _inputs(spec, "deep_cnn")
    layers = tf.keras.layers
    for block, filters in enumerate((32, 64, 128), start=1):
        for j in (1, 2):
            name = f"block{block}_conv{j}"
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=name)(x)
            x = layers.BatchNormalization(name=f"{name}_bn")(x)
            x = layers.ReLU(name=f"{name}_relu")(x)
        x = layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
        x = layers.Dropout(spec.dropout, name=f"block{block}_dropout")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(256, use_bias=False, name="dense")(x)
    x = layers.BatchNormalization(name="dense_bn")(x)
    x = layers.ReLU(name="dense_relu")(x)
    x = layers.Dropout(min(0.5, 2 * spec.dropout), name="dense_dropout")(x)
    return _classifier(inputs, x, spec, "deep_cnn")
