"""The record every model builder takes, and the compile step they share."""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from input_fns.preprocessing import ImageSpec

INPUT_NAME = "image"


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """Everything a builder needs: input, classes and optimiser settings."""

    image: ImageSpec
    num_classes: int
    learning_rate: float = 1e-3
    dropout: float = 0.25
    input_name: str = INPUT_NAME


def compile_classifier(model: tf.keras.Model, spec: ModelSpec) -> tf.keras.Model:
    # model_to_estimator only accepts the legacy (v1-style) optimizers in TF 2.11+.
    model.compile(
        optimizer=tf.keras.optimizers.legacy.Adam(learning_rate=spec.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
