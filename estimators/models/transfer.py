"""Transfer models on tf.keras.applications backbones: frozen base, average pooling, dropout + L2 softmax head.

Every backbone is one row of estimators/models/backbones.py; ``build_transfer``
builds any of them, resolving ``tf.keras.applications.<application>`` by name.

The backbone's layers are built on the model's own named input (``input_tensor``)
rather than nested as one sub-model, so every base layer is a layer of the
model: checkpoint keys are Keras's own layer names (block1_conv1/kernel), and
fine-tuning can unfreeze from any of them by name.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import tensorflow as tf

from common.errors import NetworkUnavailableError, UsageError
from estimators.models.backbones import BACKBONES, Backbone
from estimators.models.image_size import check_image_size
from estimators.models.spec import OUTPUT_NAME, WEIGHTS_IMAGENET, WEIGHTS_NONE, ModelSpec
from estimators.tasks.classification import classifier_head, compile_classifier

POOL_NAME = "avg_pool"
HEAD_DROPOUT_NAME = "head_dropout"
# Layers after the backbone; every other non-input layer belongs to the base.
HEAD_LAYERS = frozenset({POOL_NAME, HEAD_DROPOUT_NAME, OUTPUT_NAME})
__all__ = ["BACKBONES", "Backbone", "base_layers", "build_transfer", "check_input", "freeze_base"]


def check_input(name: str, spec: ModelSpec) -> None:
    """The backbone's input-size and weights rules, checked before anything is built."""
    image = spec.image
    if image is None:
        raise UsageError("model", f"'{name}' is an image model; the dataset has no images")
    if image.channels != 3:
        raise UsageError("channels", f"'{name}' takes RGB images (3 channels), not {image.channels}")
    backbone = BACKBONES[name]
    imagenet = spec.weights == WEIGHTS_IMAGENET
    check_image_size(name, image.height, image.width, backbone.min_size, backbone.imagenet_sizes, imagenet)
    if spec.weights not in (WEIGHTS_NONE, WEIGHTS_IMAGENET) and not tf.io.gfile.exists(spec.weights):
        raise UsageError("weights", f"no weights file at '{spec.weights}'; allowed: imagenet, none or a local file")


def build_transfer(name: str, spec: ModelSpec) -> tf.keras.Model:
    check_input(name, spec)
    inputs = tf.keras.Input(shape=spec.image.shape, name=spec.input_name)
    base = _make_base(name, spec, inputs)
    freeze_base(base.layers, trainable=spec.trainable_base)
    x = tf.keras.layers.GlobalAveragePooling2D(name=POOL_NAME)(base.output)
    x = tf.keras.layers.Dropout(spec.dropout, name=HEAD_DROPOUT_NAME)(x)
    model = tf.keras.Model(inputs, classifier_head(x, spec, l2=spec.l2), name=name)
    return compile_classifier(model, spec)


def freeze_base(layers: list[tf.keras.layers.Layer], trainable: bool) -> None:
    """Set the base's trainability; BatchNormalization always stays in inference mode.

    In TF2 Keras a BatchNormalization layer with trainable=False normalises
    with its moving statistics, so the ImageNet statistics are kept (and the
    layer also runs so inside model_to_estimator's graph).
    """
    for layer in layers:
        layer.trainable = trainable and not isinstance(layer, tf.keras.layers.BatchNormalization)


def base_layers(model: tf.keras.Model) -> list[tf.keras.layers.Layer]:
    """The backbone's layers of a transfer (or Hub) model, in order."""
    return [
        layer
        for layer in model.layers
        if layer.name not in HEAD_LAYERS and not isinstance(layer, tf.keras.layers.InputLayer)
    ]


def application(backbone: Backbone) -> Callable[..., tf.keras.Model]:
    return getattr(tf.keras.applications, backbone.application)


def _make_base(name: str, spec: ModelSpec, inputs: tf.Tensor) -> tf.keras.Model:
    backbone = BACKBONES[name]
    weights = None if spec.weights == WEIGHTS_NONE else spec.weights

    def build() -> tf.keras.Model:
        return application(backbone)(
            include_top=False, weights=weights, input_tensor=inputs, input_shape=spec.image.shape, pooling=None
        )

    if spec.weights == WEIGHTS_IMAGENET:
        try:
            return build()
        except Exception as err:  # noqa: BLE001  (urllib, OSError or Keras's "URL fetch failure")
            if "fetch" not in str(err).lower() and not isinstance(err, OSError | ConnectionError):
                raise
            cached = os.path.join(os.path.expanduser("~"), ".keras", "models", backbone.notop_file)
            raise NetworkUnavailableError(
                f"could not fetch the ImageNet weights for '{name}' ({type(err).__name__}); download "
                f"{backbone.notop_url} where there is network and pass --weights=<that file> "
                f"(or copy it to {cached})"
            ) from None
    if weights is None:
        return build()
    try:
        return build()
    except (ValueError, OSError) as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UsageError(
            "weights", f"'{spec.weights}' does not hold '{name}' weights without the top ({first_line})"
        ) from None
