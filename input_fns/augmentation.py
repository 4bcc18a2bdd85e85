"""Training-only image augmentation, and the per-example / per-batch image stages every source uses.

Cost decides where each step runs. The zoom-crop is folded into the resize
to the model's size (one resampling of the decoded image instead of two);
colour jitter runs in the same pass over the resized float image and the
cast back to uint8 clips it for free; flips and rot90 move uint8 bytes. So
these cost little next to decoding. Rotation needs a projective transform,
about twice the cost of decoding a 300x300 JPEG, and hue/saturation need an
HSV round trip: both are there, and both cost what they cost. The backbone's
normalisation runs once per batch. Random draws are stateless, from a seed
paired with each element, so a seeded run repeats.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import tensorflow as tf

from common.errors import UsageError
from input_fns.preprocessing import PREPROCESSORS, ImageSpec, match_channels

Stage = Callable[..., tuple]


def _check_range(flag: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise UsageError(flag, f"{value}; allowed: {low} to {high}")


@dataclasses.dataclass(frozen=True)
class AugmentParams:
    """Which augmentations run in TRAIN, and how strong. All off by default.

    rotation_degrees: angles drawn from [-d, d]; zoom: crops a square-ish
    window whose side is 1/(1+zoom) to 1 of the image, then resizes it up;
    hue: delta in [-h, h] (of a full turn); saturation and contrast: factors
    in [1-x, 1+x]; brightness: delta in [-b, b] of the full 0-255 range.
    """

    horizontal_flip: bool = False
    vertical_flip: bool = False
    rot90: bool = False
    rotation_degrees: float = 0.0
    zoom: float = 0.0
    hue: float = 0.0
    saturation: float = 0.0
    brightness: float = 0.0
    contrast: float = 0.0

    def __post_init__(self) -> None:
        _check_range("augment_rotation_degrees", self.rotation_degrees, 0.0, 180.0)
        _check_range("augment_zoom", self.zoom, 0.0, 4.0)
        _check_range("augment_hue", self.hue, 0.0, 0.5)
        _check_range("augment_saturation", self.saturation, 0.0, 1.0)
        _check_range("augment_brightness", self.brightness, 0.0, 1.0)
        _check_range("augment_contrast", self.contrast, 0.0, 1.0)

    @property
    def geometric(self) -> bool:
        return self.horizontal_flip or self.vertical_flip or self.rot90 or self.rotation_degrees > 0 or self.zoom > 0

    @property
    def color(self) -> bool:
        return self.hue > 0 or self.saturation > 0 or self.brightness > 0 or self.contrast > 0

    @property
    def enabled(self) -> bool:
        return self.geometric or self.color


NO_AUGMENTATION = AugmentParams()


def resize_uint8(image: tf.Tensor, spec: ImageSpec) -> tf.Tensor:
    """uint8 image of any size -> uint8 at the spec's size (uint8 halves cache and batch copies)."""
    if image.shape[0] == spec.height and image.shape[1] == spec.width:
        return image
    return _to_uint8(tf.image.resize(image, (spec.height, spec.width)))


def _to_uint8(pixels: tf.Tensor) -> tf.Tensor:
    # saturate_cast clips to 0-255 and truncates: adding 0.5 first rounds, in one pass less than tf.round.
    return tf.saturate_cast(pixels + 0.5, tf.uint8)


def augment_image(image: tf.Tensor, spec: ImageSpec, params: AugmentParams, seed: tf.Tensor) -> tf.Tensor:
    """Decoded uint8 image of any size -> augmented uint8 image at the spec's size.

    One pass over the model-sized float image does the colour jitter, and the
    cast back to uint8 clips it for free; flips and rot90 then move uint8 bytes.
    """
    seeds = tf.random.experimental.stateless_split(seed, 9)
    if params.zoom > 0:
        image = _random_crop(image, 1.0 / (1.0 + params.zoom), seeds[0])
    resized = image.shape[0] == spec.height and image.shape[1] == spec.width
    if params.color or not resized:
        pixels = tf.cast(image, tf.float32) if resized else tf.image.resize(image, (spec.height, spec.width))
        if params.color:
            pixels = jitter_color(pixels, params, seeds[5:9])
        image = _to_uint8(pixels)
    if params.horizontal_flip:
        image = _maybe(seeds[1], lambda: tf.reverse(image, [1]), lambda: image)
    if params.vertical_flip:
        image = _maybe(seeds[2], lambda: tf.reverse(image, [0]), lambda: image)
    if params.rot90:
        k = tf.random.stateless_uniform([], seeds[3], 0, 4, dtype=tf.int32)
        image = tf.image.rot90(image, k)
    if params.rotation_degrees > 0:
        limit = math.radians(params.rotation_degrees)
        angle = tf.random.stateless_uniform([], seeds[4], -limit, limit)
        image = rotate(image, angle)
    return tf.ensure_shape(image, spec.shape)


def jitter_color(pixels: tf.Tensor, params: AugmentParams, seeds: tf.Tensor) -> tf.Tensor:
    """float32 [H, W, C] image in [0, 255] -> jittered (not clipped: the caller's uint8 cast clips).

    Hue and saturation are scale-invariant, so they work on 0-255 values
    directly; contrast scales about the image's mean over all channels (as
    PIL's ImageEnhance.Contrast does), one cheap full reduction.
    """

    def draw(i: int, low: float, high: float) -> tf.Tensor:
        return tf.random.stateless_uniform([], seeds[i], low, high)

    if pixels.shape[-1] == 3:
        if params.hue > 0:
            pixels = tf.image.adjust_hue(pixels, draw(0, -params.hue, params.hue))
        if params.saturation > 0:
            pixels = tf.image.adjust_saturation(pixels, draw(1, 1 - params.saturation, 1 + params.saturation))
    scale, offset = 1.0, 0.0
    if params.contrast > 0:
        scale = draw(2, 1 - params.contrast, 1 + params.contrast)
        offset = (1.0 - scale) * tf.reduce_mean(pixels)
    if params.brightness > 0:
        offset = offset + draw(3, -params.brightness, params.brightness) * 255.0
    if params.contrast > 0 or params.brightness > 0:
        pixels = pixels * scale + offset
    return pixels


def rotate(image: tf.Tensor, angle: tf.Tensor) -> tf.Tensor:
    """Rotate a [H, W, C] image by ``angle`` radians about its centre; edges are reflected."""
    height = tf.cast(tf.shape(image)[0], tf.float32)
    width = tf.cast(tf.shape(image)[1], tf.float32)
    cos, sin = tf.cos(angle), tf.sin(angle)
    x_offset = ((width - 1) - (cos * (width - 1) - sin * (height - 1))) / 2.0
    y_offset = ((height - 1) - (sin * (width - 1) + cos * (height - 1))) / 2.0
    transform = tf.stack([cos, -sin, x_offset, sin, cos, y_offset, 0.0, 0.0])[None]
    rotated = tf.raw_ops.ImageProjectiveTransformV3(
        images=image[None],
        transforms=transform,
        output_shape=tf.shape(image)[:2],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="REFLECT",
    )
    return rotated[0]


def _maybe(seed: tf.Tensor, true_fn: Callable, false_fn: Callable) -> tf.Tensor:
    return tf.cond(tf.random.stateless_uniform([], seed) < 0.5, true_fn, false_fn)


def _random_crop(image: tf.Tensor, min_fraction: float, seed: tf.Tensor) -> tf.Tensor:
    seeds = tf.random.experimental.stateless_split(seed, 3)
    shape = tf.shape(image)
    height, width = shape[0], shape[1]
    fraction = tf.random.stateless_uniform([], seeds[0], min_fraction, 1.0)
    crop_h = tf.maximum(1, tf.cast(tf.round(tf.cast(height, tf.float32) * fraction), tf.int32))
    crop_w = tf.maximum(1, tf.cast(tf.round(tf.cast(width, tf.float32) * fraction), tf.int32))
    top = tf.random.stateless_uniform([], seeds[1], 0, height - crop_h + 1, dtype=tf.int32)
    left = tf.random.stateless_uniform([], seeds[2], 0, width - crop_w + 1, dtype=tf.int32)
    return tf.slice(image, [top, left, 0], [crop_h, crop_w, -1])


@dataclasses.dataclass(frozen=True)
class ImageStages:
    """The image work of one pipeline, split where ``pipeline_ops.finish`` wants it."""

    decode: Stage
    element: Stage | None
    batch: Stage


def image_stages(
    spec: ImageSpec,
    training: bool,
    augment: AugmentParams = NO_AUGMENTATION,
    load: Callable[[tf.Tensor], tf.Tensor] | None = None,
) -> ImageStages:
    """Stages for ``(x, label)`` examples where ``load(x)`` is a uint8 image (default: x is one).

    Without geometric augmentation the resize happens before the cache, so a
    cache holds model-sized uint8 images; with it, the cache holds decoded
    images and the random crop, flips and resize run together every epoch.
    """
    if training and augment.rot90 and spec.height != spec.width:
        raise UsageError("augment_rot90", f"needs square images; the model takes {spec.height}x{spec.width}")
    augmenting = training and augment.enabled
    normalize = PREPROCESSORS[spec.preprocessing]

    def decode(x: tf.Tensor, label: tf.Tensor) -> tuple:
        image = match_channels(x if load is None else load(x), spec.channels)
        # A zoom-crop needs the full decoded image; everything else can start from the model's size.
        return (image if augmenting and augment.zoom > 0 else resize_uint8(image, spec)), label

    def element(image: tf.Tensor, label: tf.Tensor, seed: tf.Tensor) -> tuple:
        return augment_image(image, spec, augment, seed), label

    def batch(images: tf.Tensor, labels: tf.Tensor) -> tuple:
        return normalize(tf.cast(images, tf.float32)), labels

    return ImageStages(decode=decode, element=element if augmenting else None, batch=batch)
