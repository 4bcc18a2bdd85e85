"""Turn decoded uint8 images into what a model's input layer expects.

Each backbone has its own normalisation: a model given another's inputs
trains to chance level, so the name travels with the model spec.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import tensorflow as tf

from common.errors import UsageError


def _unit(images: tf.Tensor) -> tf.Tensor:
    return images / 255.0


def _caffe(images: tf.Tensor) -> tf.Tensor:
    # VGG16's weights were trained on BGR images with the ImageNet mean removed.
    return tf.keras.applications.vgg16.preprocess_input(images)


def _symmetric(images: tf.Tensor) -> tf.Tensor:
    # MobileNetV2 and NASNetMobile were trained on inputs scaled to [-1, 1].
    return images / 127.5 - 1.0


PREPROCESSORS: dict[str, Callable[[tf.Tensor], tf.Tensor]] = {
    "unit": _unit,
    "vgg16": _caffe,
    "mobilenet_v2": _symmetric,
    "nasnet_mobile": _symmetric,
}


# The normalisations that are ``scale * x + offset``: augmentation folds them into its own multiply-add.
AFFINE: dict[str, tuple[float, float]] = {
    "unit": (1 / 255.0, 0.0),
    "mobilenet_v2": (1 / 127.5, -1.0),
    "nasnet_mobile": (1 / 127.5, -1.0),
}


@dataclasses.dataclass(frozen=True)
class ImageSpec:
    """The image a model's input layer takes: size, channels and normalisation."""

    height: int
    width: int
    channels: int
    preprocessing: str = "unit"

    def __post_init__(self) -> None:
        if self.preprocessing not in PREPROCESSORS:
            raise UsageError(
                "preprocessing",
                f"unknown preprocessing '{self.preprocessing}'; allowed: {', '.join(sorted(PREPROCESSORS))}",
            )
        if self.channels not in (1, 3):
            raise UsageError("channels", f"{self.channels} channels; allowed: 1 or 3")

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.height, self.width, self.channels)


def prepare_image(image: tf.Tensor, spec: ImageSpec) -> tf.Tensor:
    """uint8 image of any size and 1, 3 or 4 channels -> float32 model input."""
    image = match_channels(image, spec.channels)
    image = tf.cast(image, tf.float32)
    if image.shape[0] != spec.height or image.shape[1] != spec.width:
        image = tf.image.resize(image, (spec.height, spec.width))
    return PREPROCESSORS[spec.preprocessing](image)


def decode_image(image_bytes: tf.Tensor, channels: int) -> tf.Tensor:
    """PNG, JPEG, BMP or GIF bytes -> uint8 [height, width, channels] (first GIF frame)."""
    if channels == 3:
        image = tf.io.decode_image(image_bytes, channels=3, expand_animations=False)
    else:
        # BMP and GIF decoders refuse channels=1, so decode as stored and reduce here.
        image = tf.io.decode_image(image_bytes, channels=0, expand_animations=False)
        image = tf.cond(tf.shape(image)[-1] < 3, lambda: image[..., :1], lambda: _luma(image[..., :3]))
    image.set_shape([None, None, channels])
    return image


def _luma(rgb: tf.Tensor) -> tf.Tensor:
    gray = tf.image.rgb_to_grayscale(tf.cast(rgb, tf.float32))
    return tf.cast(tf.clip_by_value(tf.round(gray), 0, 255), tf.uint8)


def match_channels(image: tf.Tensor, channels: int) -> tf.Tensor:
    """uint8 image with 1, 3 or 4 (static) channels -> ``channels`` channels (alpha dropped)."""
    have = image.shape[-1]
    if have == channels:
        return image
    if have == 4:
        image = image[..., :3]
        have = 3
    if channels == 3 and have == 1:
        return tf.image.grayscale_to_rgb(image)
    if channels == 1 and have == 3:
        return _luma(image)
    return image
