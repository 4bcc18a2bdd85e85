"""Transfer models on tf.keras.applications backbones: frozen base, average pooling, dropout + L2 softmax head.

The backbone's layers are built on the model's own named input (``input_tensor``)
rather than nested as one sub-model, so every base layer is a layer of the
model: checkpoint keys are Keras's own layer names (block1_conv1/kernel), and
fine-tuning can unfreeze from any of them by name.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

import tensorflow as tf

from common.errors import NetworkUnavailableError, UsageError
from estimators.models.spec import (
    OUTPUT_NAME,
    WEIGHTS_IMAGENET,
    WEIGHTS_NONE,
    ModelSpec,
    classifier_head,
    compile_classifier,
)

POOL_NAME = "avg_pool"
HEAD_DROPOUT_NAME = "head_dropout"
# Layers after the backbone; every other non-input layer belongs to the base.
HEAD_LAYERS = frozenset({POOL_NAME, HEAD_DROPOUT_NAME, OUTPUT_NAME})
_KERAS_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"


@dataclasses.dataclass(frozen=True)
class Backbone:
    application: Callable[..., tf.keras.Model]
    min_size: int
    notop_file: str  # what Keras downloads for weights="imagenet", include_top=False
    imagenet_sizes: tuple[int, ...] | None = None  # None: any size from min_size up
    base_params: int = 0  # Keras's own count with include_top=False


BACKBONES: dict[str, Backbone] = {
    "vgg16": Backbone(
        tf.keras.applications.VGG16,
        min_size=32,
        notop_file="vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        base_params=14_714_688,
    ),
    "mobilenet_v2": Backbone(
        tf.keras.applications.MobileNetV2,
        min_size=32,
        notop_file="mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
        base_params=2_257_984,
    ),
    "nasnet_mobile": Backbone(
        tf.keras.applications.NASNetMobile,
        min_size=32,
        notop_file="nasnet/NASNet-mobile-no-top.h5",
        # Keras has NASNetMobile ImageNet weights for 224x224 inputs only.
        imagenet_sizes=(224,),
        base_params=4_269_716,
    ),
}


def check_input(name: str, spec: ModelSpec) -> None:
    """The backbone's input-size and weights rules, checked before anything is built."""
    backbone = BACKBONES[name]
    image = spec.image
    if image is None:
        raise UsageError("model", f"'{name}' is an image model; the dataset has no images")
    if image.channels != 3:
        raise UsageError("channels", f"'{name}' takes RGB images (3 channels), not {image.channels}")
    if min(image.height, image.width) < backbone.min_size:
        raise UsageError(
            "image_size",
            f"'{name}' needs images of at least {backbone.min_size}x{backbone.min_size}; got {image.height}x{image.width}",
        )
    if spec.weights == WEIGHTS_IMAGENET and backbone.imagenet_sizes is not None:
        sizes = backbone.imagenet_sizes
        if image.height != image.width or image.height not in sizes:
            allowed = ", ".join(f"{s}x{s}" for s in sizes)
            raise UsageError(
                "image_size",
                f"'{name}' with ImageNet weights takes only {allowed} images; got {image.height}x{image.width}",
            )
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


def _make_base(name: str, spec: ModelSpec, inputs: tf.Tensor) -> tf.keras.Model:
    backbone = BACKBONES[name]
    weights = None if spec.weights == WEIGHTS_NONE else spec.weights

    def build() -> tf.keras.Model:
        return backbone.application(
            include_top=False, weights=weights, input_tensor=inputs, input_shape=spec.image.shape, pooling=None
        )

    if spec.weights == WEIGHTS_IMAGENET:
        try:
            return build()
        except Exception as err:  # noqa: BLE001  (urllib, OSError or Keras's "URL fetch failure")
            if "fetch" not in str(err).lower() and not isinstance(err, OSError | ConnectionError):
                raise
            cached = os.path.join(os.path.expanduser("~"), ".keras", "models", os.path.basename(backbone.notop_file))
            raise NetworkUnavailableError(
                f"could not fetch the ImageNet weights for '{name}' ({type(err).__name__}); download "
                f"{_KERAS_WEIGHTS_URL}{backbone.notop_file} where there is network and pass --weights=<that file> "
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


def build_vgg16(spec: ModelSpec) -> tf.keras.Model:
    return build_transfer("vgg16", spec)


def build_mobilenet_v2(spec: ModelSpec) -> tf.keras.Model:
    return build_transfer("mobilenet_v2", spec)


def build_nasnet_mobile(spec: ModelSpec) -> tf.keras.Model:
    return build_transfer("nasnet_mobile", spec)
