"""Model builders by name. Each returns a compiled Keras model whose input layers are named."""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from common.errors import UsageError
from estimators.models.cifar_cnn import build_basic_cnn, build_deep_cnn
from estimators.models.dnn import build_dnn
from estimators.models.hub_model import build_hub
from estimators.models.small_cnn import build_small_cnn
from estimators.models.spec import INPUT_NAME, OUTPUT_NAME, ModelSpec
from estimators.models.transfer import BACKBONES, build_mobilenet_v2, build_nasnet_mobile, build_vgg16

__all__ = [
    "BACKBONES",
    "BUILDERS",
    "INPUT_NAME",
    "OUTPUT_NAME",
    "PREPROCESSING",
    "RGB_MODELS",
    "TABULAR_MODELS",
    "TRANSFER_MODELS",
    "ModelSpec",
    "build_model",
]

Builder = Callable[[ModelSpec], tf.keras.Model]

BUILDERS: dict[str, Builder] = {
    "small_cnn": build_small_cnn,
    "basic_cnn": build_basic_cnn,
    "deep_cnn": build_deep_cnn,
    "dnn": build_dnn,
    "vgg16": build_vgg16,
    "mobilenet_v2": build_mobilenet_v2,
    "nasnet_mobile": build_nasnet_mobile,
    "hub": build_hub,
}


def build_model(name: str, spec: ModelSpec) -> tf.keras.Model:
    if name not in BUILDERS:
        raise UsageError("model", f"unknown model '{name}'; allowed: {', '.join(sorted(BUILDERS))}")
    return BUILDERS[name](spec)


# The input normalisation each model's weights expect (input_fns.preprocessing);
# a model not listed takes "unit" (pixels / 255), as TF-Hub image modules do.
PREPROCESSING: dict[str, str] = {
    "vgg16": "vgg16",
    "mobilenet_v2": "mobilenet_v2",
    "nasnet_mobile": "nasnet_mobile",
}

# Models that take RGB whatever the dataset stores (grayscale is repeated to 3 channels).
RGB_MODELS = frozenset({"basic_cnn", "deep_cnn", "vgg16", "mobilenet_v2", "nasnet_mobile", "hub"})
# Models with a frozen pretrained base: fine-tuning and the bottleneck cache apply.
TRANSFER_MODELS = frozenset(BACKBONES) | {"hub"}
# Models over named numeric features instead of an image.
TABULAR_MODELS = frozenset({"dnn"})
