"""Model builders by name. Each returns a compiled Keras model whose input layer is named."""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from common.errors import UsageError
from estimators.models.small_cnn import build_small_cnn
from estimators.models.spec import INPUT_NAME, ModelSpec

__all__ = ["BUILDERS", "INPUT_NAME", "PREPROCESSING", "ModelSpec", "build_model"]

Builder = Callable[[ModelSpec], tf.keras.Model]

BUILDERS: dict[str, Builder] = {
    "small_cnn": build_small_cnn,
}


def build_model(name: str, spec: ModelSpec) -> tf.keras.Model:
    if name not in BUILDERS:
        raise UsageError("model", f"unknown model '{name}'; allowed: {', '.join(sorted(BUILDERS))}")
    return BUILDERS[name](spec)


# The input normalisation each model's weights expect (input_fns.preprocessing);
# a model not listed takes "unit" (pixels / 255).
PREPROCESSING: dict[str, str] = {}
