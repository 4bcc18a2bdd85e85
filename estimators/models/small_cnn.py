"""A small CNN for low-resolution images such as the 8x8 digits."""

from __future__ import annotations

import tensorflow as tf

from estimators.models.spec import ModelSpec
from estimators.tasks.classification import classifier_head, compile_classifier


def build_small_cnn(spec: ModelSpec) -> tf.keras.Model:
    """Two 3x3 conv blocks, one pooling step, a dense head; about 90k weights on 8x8."""
    layers = tf.keras.layers
    inputs = tf.keras.Input(shape=spec.image.shape, name=spec.input_name)
    # Layers are named: checkpoint keys come from layer names, and Keras's
    # automatic ones (conv2d_3) change with how many models a process built.
    x = layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = layers.Conv2D(64, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool")(x)
    x = layers.Dropout(spec.dropout, name="conv_dropout")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(128, activation="relu", name="dense")(x)
    x = layers.Dropout(spec.dropout, name="dense_dropout")(x)
    outputs = classifier_head(x, spec)
    model = tf.keras.Model(inputs, outputs, name="small_cnn")
    return compile_classifier(model, spec)
