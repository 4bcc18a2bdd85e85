"""Model builders by name (``registry.MODELS``). Each returns a compiled Keras model whose input layers are named.

This package's face imports no TensorFlow: the flag layer reads the registry
through it, and a builder's module loads only when that model is built.
"""

from __future__ import annotations

from common.errors import UsageError
from estimators.models.registry import MODELS, get

__all__ = ["MODELS", "build_model"]


def build_model(name: str, spec):  # (ModelSpec) -> tf.keras.Model
    entry = get(name)
    if entry.canned:
        raise UsageError("model", f"'{name}' is a canned Estimator, not a Keras model")
    return entry.load_builder()(spec)
