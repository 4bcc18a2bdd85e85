"""Model builders by name (``registry.MODELS``). Each returns a compiled Keras model whose input layers are named."""

from __future__ import annotations

import tensorflow as tf

from common.errors import UsageError
from estimators.models.registry import MODELS, get
from estimators.models.spec import INPUT_NAME, OUTPUT_NAME, ModelSpec

__all__ = ["INPUT_NAME", "MODELS", "OUTPUT_NAME", "ModelSpec", "build_model"]


def build_model(name: str, spec: ModelSpec) -> tf.keras.Model:
    entry = get(name)
    if entry.canned:
        raise UsageError("model", f"'{name}' is a canned Estimator, not a Keras model")
    return entry.load_builder()(spec)
