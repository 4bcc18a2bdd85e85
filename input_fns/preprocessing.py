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


# The largest image decoded (pixels, from the header): 64 Mpx is 192 MB as RGB uint8. A
# hostile or broken header claiming 20,000 x 20,000 would otherwise make the decoder allocate it.
MAX_PIXELS = 64 * 1024 * 1024


def _header_bytes(image_bytes: tf.Tensor, count: int = 32) -> tf.Tensor:
    padded = tf.strings.join([tf.strings.substr(image_bytes, 0, count), tf.constant(b"\0" * count)])
    return tf.cast(tf.io.decode_raw(tf.strings.substr(padded, 0, count), tf.uint8), tf.int64)


def _number(head: tf.Tensor, start: int, size: int, little_endian: bool) -> tf.Tensor:
    order = range(size) if little_endian else reversed(range(size))
    return tf.add_n([head[start + i] * (256**k) for k, i in enumerate(order)])


def header_pixels(image_bytes: tf.Tensor) -> tf.Tensor:
    """Width x height as the PNG, BMP, GIF or JPEG header states it (int64; 0 when not one of those)."""
    head = _header_bytes(image_bytes)

    # tf.equal, not ==: in TF1 graphs (the Estimator's serving receiver) == compares identity.
    def starts(*magic: int) -> tf.Tensor:
        return tf.reduce_all(tf.equal(head[: len(magic)], tf.constant(magic, tf.int64)))

    png, bmp = starts(0x89, ord("P")), starts(ord("B"), ord("M"))
    gif, jpeg = starts(ord("G"), ord("I"), ord("F")), starts(0xFF, 0xD8)
    png_px = _number(head, 16, 4, False) * _number(head, 20, 4, False)
    # BMP: a 12-byte core header has 16-bit sizes; the others signed 32-bit (negative height: top-down).
    core = tf.equal(_number(head, 14, 4, True), 12)
    bmp_w = tf.where(core, _number(head, 18, 2, True), _number(head, 18, 4, True))
    bmp_h = tf.where(core, _number(head, 20, 2, True), _number(head, 22, 4, True))
    bmp_h = tf.where(bmp_h >= 2**31, 2**32 - bmp_h, bmp_h)
    gif_px = _number(head, 6, 2, True) * _number(head, 8, 2, True)
    zero = tf.constant(0, tf.int64)

    def jpeg_px() -> tf.Tensor:
        shape = tf.cast(tf.io.extract_jpeg_shape(image_bytes), tf.int64)
        return shape[0] * shape[1]

    px = tf.where(png, png_px, tf.where(bmp, bmp_w * bmp_h, tf.where(gif, gif_px, zero)))
    return tf.cond(jpeg, jpeg_px, lambda: px)


def decode_image(image_bytes: tf.Tensor, channels: int, max_pixels: int = MAX_PIXELS) -> tf.Tensor:
    """PNG, JPEG, BMP or GIF bytes -> uint8 [height, width, channels] (first GIF frame).

    A header claiming more than ``max_pixels`` fails with InvalidArgumentError before any
    decoder allocates the image (the up-front check skips such a file, serving rejects it).
    """
    check = tf.debugging.assert_less_equal(
        header_pixels(image_bytes),
        tf.constant(max_pixels, tf.int64),
        message=f"image header claims more than {max_pixels} pixels",
    )
    with tf.control_dependencies([check]):
        image_bytes = tf.identity(image_bytes)
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
