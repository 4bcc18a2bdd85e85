"""Turn decoded uint8 images into what a model's input layer expects.

A normalisation is named by its convention, the one tf.keras.applications'
``preprocess_input`` functions use (``imagenet_utils`` modes): a backbone's
ImageNet weights were trained on one, and a model given another's inputs
trains to chance level, so the name travels with the model spec. Each
backbone's convention is in estimators/models/backbones.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import tensorflow as tf

from common.errors import UsageError

UNIT = "unit"  # [0, 1]: kestrel's own models
CAFFE = "caffe"  # BGR, ImageNet mean removed: VGG, ResNet v1
TF = "tf"  # [-1, 1]: ResNet v2, Inception, Xception, MobileNet v1/v2, NASNet
TORCH = "torch"  # [0, 1], then ImageNet mean and std per channel: DenseNet
RAW = "raw"  # 0-255 as decoded: the model rescales in its own first layers (EfficientNet, ConvNeXt, ...)

# imagenet_utils' constants, RGB order.
_IMAGENET_MEAN_255 = (123.68, 116.779, 103.939)
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def _unit(images: tf.Tensor) -> tf.Tensor:
    return images / 255.0


def _caffe(images: tf.Tensor) -> tf.Tensor:
    # RGB -> BGR, then the (BGR) ImageNet mean removed; no scaling.
    return images[..., ::-1] - tf.constant(_IMAGENET_MEAN_255[::-1], images.dtype)


def _tf(images: tf.Tensor) -> tf.Tensor:
    return images / 127.5 - 1.0


def _torch(images: tf.Tensor) -> tf.Tensor:
    mean, std = tf.constant(_IMAGENET_MEAN, images.dtype), tf.constant(_IMAGENET_STD, images.dtype)
    return (images / 255.0 - mean) / std


def _raw(images: tf.Tensor) -> tf.Tensor:
    return images


PREPROCESSORS: dict[str, Callable[[tf.Tensor], tf.Tensor]] = {
    UNIT: _unit,
    CAFFE: _caffe,
    TF: _tf,
    TORCH: _torch,
    RAW: _raw,
}


# The normalisations that are ``scale * x + offset``: augmentation folds them into its own multiply-add.
AFFINE: dict[str, tuple[float, float]] = {
    UNIT: (1 / 255.0, 0.0),
    TF: (1 / 127.5, -1.0),
    RAW: (1.0, 0.0),
}


@dataclasses.dataclass(frozen=True)
class ImageSpec:
    """The image a model's input layer takes: size, channels and normalisation."""

    height: int
    width: int
    channels: int
    preprocessing: str = UNIT

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


# The header fields header_pixels reads, as (offset, bytes, little-endian): PNG's big-endian
# width and height; BMP's header size, 16-bit (core header) and 32-bit width and height; GIF's.
_FIELDS = (
    (16, 4, False),
    (20, 4, False),
    (14, 4, True),
    (18, 2, True),
    (20, 2, True),
    (18, 4, True),
    (22, 4, True),
    (6, 2, True),
    (8, 2, True),
)
# The signatures it tells apart (PNG, BMP, GIF, JPEG), padded to 4 bytes with a mask.
_MAGICS = ((0x89, ord("P")), (ord("B"), ord("M")), (ord("G"), ord("I"), ord("F")), (0xFF, 0xD8))


def _field_table() -> tuple[list[list[int]], list[list[int]]]:
    """Byte positions and place values of ``_FIELDS``: a field is sum(head[index] * weight) over its row."""
    indices, weights = [], []
    for start, size, little_endian in _FIELDS:
        order = list(range(size)) if little_endian else list(reversed(range(size)))
        indices.append([start + i for i in order] + [0] * (4 - size))
        weights.append([256**k for k in range(size)] + [0] * (4 - size))
    return indices, weights


def _numbers(head: tf.Tensor) -> list[tf.Tensor]:
    """Every field of ``_FIELDS`` at once: a handful of ops per image instead of ~90 scalar ones.

    This runs for every image every epoch (decode_image's check), where per-op
    dispatch, not arithmetic, is the cost: ~0.17 ms per image as scalar ops.
    """
    indices, weights = _field_table()
    values = tf.reduce_sum(tf.gather(head, indices) * tf.constant(weights, tf.int64), axis=1)
    return tf.unstack(values, num=len(_FIELDS))


def _signatures(head: tf.Tensor) -> list[tf.Tensor]:
    """Whether ``head`` starts with each of ``_MAGICS`` (tf.equal: in TF1 graphs == compares identity)."""
    patterns = [list(m) + [0] * (4 - len(m)) for m in _MAGICS]
    masks = [[1] * len(m) + [0] * (4 - len(m)) for m in _MAGICS]
    found = tf.equal(head[None, :4] * tf.constant(masks, tf.int64), tf.constant(patterns, tf.int64))
    return tf.unstack(tf.reduce_all(found, axis=1), num=len(_MAGICS))


def header_pixels(image_bytes: tf.Tensor) -> tf.Tensor:
    """Width x height as the PNG, BMP, GIF or JPEG header states it (int64; 0 when not one of those)."""
    head = _header_bytes(image_bytes)
    png, bmp, gif, jpeg = _signatures(head)
    png_w, png_h, bmp_header, bmp_w16, bmp_h16, bmp_w32, bmp_h32, gif_w, gif_h = _numbers(head)
    # BMP: a 12-byte core header has 16-bit sizes; the others signed 32-bit (negative height: top-down).
    core = tf.equal(bmp_header, 12)
    bmp_w = tf.where(core, bmp_w16, bmp_w32)
    bmp_h = tf.where(core, bmp_h16, bmp_h32)
    bmp_h = tf.where(bmp_h >= 2**31, 2**32 - bmp_h, bmp_h)
    zero = tf.constant(0, tf.int64)

    def jpeg_px() -> tf.Tensor:
        shape = tf.cast(tf.io.extract_jpeg_shape(image_bytes), tf.int64)
        return shape[0] * shape[1]

    px = tf.where(png, png_w * png_h, tf.where(bmp, bmp_w * bmp_h, tf.where(gif, gif_w * gif_h, zero)))
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
