"""A small CNN for low-resolution images such as the 8x8 digits."""

from __future__ import annotations

import tensorflow as tf

from estimators.models.spec import ModelSpec, compile_classifier


def build_small_cnn(spec: ModelSpec) -> tf.keras.Model:
    """Two 3x3 conv blocks, one pooling step, a dense head; about 90k weights on 8x8."""
    layers = tf.keras.layers
    inputs = tf.keras.Input(shape=spec.image.shape, name=spec.input_name)
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(inputs)
    x = layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Dropout(spec.dropout)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dropout(spec.dropout)(x)
    outputs = layers.Dense(spec.num_classes, activation="softmax", name="probabilities")(x)
    model = tf.keras.Model(inputs, outputs, name="small_cnn")
    return compile_classifier(model, spec)
