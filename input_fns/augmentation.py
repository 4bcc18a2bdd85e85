"""Training-only image augmentation, and the per-example / per-batch image stages every source uses.

Cost decides where each step runs. The zoom-crop happens before the resize
to the model's size (one resampling, not two), and for JPEGs inside the
decoder (only the window is decoded); flips and rot90 move the uint8 crop's
bytes; brightness and contrast are one multiply-add on the resized image.
So these cost little next to decoding. Rotation needs a projective transform,
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
from common.params import AugmentParams
from input_fns import pipeline_ops
from input_fns.preprocessing import AFFINE, PREPROCESSORS, ImageSpec, decode_image, match_channels

Stage = Callable[..., tuple]


NO_AUGMENTATION = AugmentParams()


def resize_uint8(image: tf.Tensor, spec: ImageSpec) -> tf.Tensor:
    """uint8 image of any size -> uint8 at the spec's size (uint8 halves cache and batch copies)."""
    if image.shape[0] == spec.height and image.shape[1] == spec.width:
        return image
    return _to_uint8(tf.image.resize(image, (spec.height, spec.width)))


def _to_uint8(pixels: tf.Tensor) -> tf.Tensor:
    # saturate_cast clips to 0-255 and truncates: adding 0.5 first rounds, in one pass less than tf.round.
    return tf.saturate_cast(pixels + 0.5, tf.uint8)


# Slots of the one uniform draw each example gets (one random op instead of one per decision).
_ZOOM, _TOP, _LEFT, _HFLIP, _VFLIP, _ROT90, _ANGLE, _HUE, _SAT, _CONTRAST, _BRIGHT = range(11)
_DRAWS = 11


def draw_uniform(seed: tf.Tensor) -> tf.Tensor:
    """Every random number one example's augmentation needs, from its [2] seed."""
    return tf.random.stateless_uniform([_DRAWS], seed)


def augment_image(
    image: tf.Tensor,
    spec: ImageSpec,
    params: AugmentParams,
    seed: tf.Tensor,
    decode: Callable[[tf.Tensor, Callable | None], tf.Tensor] | None = None,
) -> tf.Tensor:
    """uint8 image of any size (or, with ``decode``, its encoded bytes) -> augmented, normalised model input.

    The zoom-crop window is cut first (JPEG bytes decode only that window,
    see ``crop_decoder``); flips and rot90 move the uint8 crop's bytes before
    the resize; rotation works on the model-sized float image; contrast,
    brightness and an affine normalisation are one multiply-add at the end.
    """
    u = draw_uniform(seed)
    window = _crop_window(u, 1.0 / (1.0 + params.zoom)) if params.zoom > 0 else None
    if decode is not None:
        image = decode(image, window)
    elif window is not None:
        image = _slice(image, window)
    image = match_channels(image, spec.channels)
    if params.horizontal_flip:
        image = tf.cond(u[_HFLIP] < 0.5, lambda: tf.reverse(image, [1]), lambda: image)
    if params.vertical_flip:
        image = tf.cond(u[_VFLIP] < 0.5, lambda: tf.reverse(image, [0]), lambda: image)
    if params.rot90:
        image = tf.image.rot90(image, tf.cast(u[_ROT90] * 4.0, tf.int32) % 4)
    pixels = resize_float(image, spec)
    if params.rotation_degrees > 0:
        limit = math.radians(params.rotation_degrees)
        pixels = rotate(pixels, (2.0 * u[_ANGLE] - 1.0) * limit)
    return tf.ensure_shape(jitter_and_normalize(pixels, spec, params, u), spec.shape)


def resize_float(image: tf.Tensor, spec: ImageSpec) -> tf.Tensor:
    if image.shape[0] == spec.height and image.shape[1] == spec.width:
        return tf.cast(image, tf.float32)
    return tf.image.resize(image, (spec.height, spec.width))


def jitter_and_normalize(pixels: tf.Tensor, spec: ImageSpec, params: AugmentParams, u: tf.Tensor) -> tf.Tensor:
    """float32 [H, W, C] image in [0, 255] -> colour-jittered model input.

    Hue and saturation are scale-invariant, so they work on 0-255 values
    directly. Contrast scales about the image's mean over all channels (as
    PIL's ImageEnhance.Contrast does: one cheap full reduction); it, the
    brightness delta and an affine normalisation fuse into one multiply-add.
    Like tf.image.adjust_brightness/adjust_contrast, nothing is clipped.
    """

    def between(slot: int, low: float, high: float) -> tf.Tensor:
        return low + (high - low) * u[slot]

    if pixels.shape[-1] == 3:
        if params.hue > 0:
            pixels = tf.image.adjust_hue(pixels, between(_HUE, -params.hue, params.hue))
        if params.saturation > 0:
            pixels = tf.image.adjust_saturation(pixels, between(_SAT, 1 - params.saturation, 1 + params.saturation))
    if not (params.contrast > 0 or params.brightness > 0):
        return PREPROCESSORS[spec.preprocessing](pixels)
    scale, offset = 1.0, 0.0
    if params.contrast > 0:
        scale = between(_CONTRAST, 1 - params.contrast, 1 + params.contrast)
        offset = (1.0 - scale) * tf.reduce_mean(pixels)
    if params.brightness > 0:
        offset = offset + between(_BRIGHT, -params.brightness, params.brightness) * 255.0
    if spec.preprocessing in AFFINE:
        a, b = AFFINE[spec.preprocessing]
        return pixels * (scale * a) + (offset * a + b)
    return PREPROCESSORS[spec.preprocessing](pixels * scale + offset)


def _crop_window(u: tf.Tensor, min_fraction: float) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """(height, width) -> [top, left, crop_h, crop_w]: a window of side min_fraction..1, anywhere."""
    fraction = min_fraction + (1.0 - min_fraction) * u[_ZOOM]

    def window(height: tf.Tensor, width: tf.Tensor) -> tf.Tensor:
        crop_h = tf.maximum(1, tf.cast(tf.cast(height, tf.float32) * fraction + 0.5, tf.int32))
        crop_w = tf.maximum(1, tf.cast(tf.cast(width, tf.float32) * fraction + 0.5, tf.int32))
        top = tf.cast(u[_TOP] * tf.cast(height - crop_h + 1, tf.float32), tf.int32)
        left = tf.cast(u[_LEFT] * tf.cast(width - crop_w + 1, tf.float32), tf.int32)
        return tf.stack([tf.minimum(top, height - crop_h), tf.minimum(left, width - crop_w), crop_h, crop_w])

    return window


def _slice(image: tf.Tensor, window: Callable[[tf.Tensor, tf.Tensor], tf.Tensor]) -> tf.Tensor:
    shape = tf.shape(image)
    box = window(shape[0], shape[1])
    return tf.slice(image, [box[0], box[1], 0], [box[2], box[3], -1])


def crop_decoder(channels: int) -> Callable[[tf.Tensor, Callable | None], tf.Tensor]:
    """Encoded bytes (+ crop window) -> uint8 image: JPEGs decode only the window, other formats decode and slice."""

    def decode(data: tf.Tensor, window: Callable | None) -> tf.Tensor:
        if window is None:
            return decode_image(data, channels)

        def jpeg() -> tf.Tensor:
            shape = tf.image.extract_jpeg_shape(data)
            return tf.image.decode_and_crop_jpeg(data, window(shape[0], shape[1]), channels=channels)

        image = tf.cond(tf.io.is_jpeg(data), jpeg, lambda: _slice(decode_image(data, channels), window))
        image.set_shape([None, None, channels])
        return image

    return decode


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


@dataclasses.dataclass(frozen=True)
class ImageStages:
    """The image work of one pipeline, split where ``pipeline_ops.finish`` wants it."""

    decode: Stage
    element: Stage | None
    batch: Stage | None

    def finish(
        self,
        ds: tf.data.Dataset,
        mode: str,
        batch_size: int,
        options: pipeline_ops.PipelineOptions,
        input_context: tf.distribute.InputContext | None,
        input_name: str,
        **kwargs,
    ) -> tf.data.Dataset:
        """``pipeline_ops.finish`` with these stages, to ``({input_name: images}, labels)``; kwargs override."""
        kwargs.setdefault("decode", self.decode)
        kwargs.setdefault("element", self.element)
        kwargs.setdefault("batch", self.batch)
        return pipeline_ops.finish_named(ds, mode, batch_size, options, input_context, input_name, **kwargs)


def image_stages(
    spec: ImageSpec,
    training: bool,
    augment: AugmentParams = NO_AUGMENTATION,
    read: Callable[[tf.Tensor], tf.Tensor] | None = None,
    cached: bool = False,
) -> ImageStages:
    """Stages for ``(x, label)`` examples: ``x`` a uint8 image, or with ``read``, ``read(x)`` its encoded bytes.

    No augmentation: decode and resize before the cache. A cache then holds
    model-sized uint8 images (a quarter of float32), normalised per batch;
    without a cache the float image is normalised at once (no round trip
    through uint8). Augmentation: everything random runs after the cache in
    one per-example stage that ends normalised. With a cache, it holds the
    full-size decoded images, so later epochs skip decoding; without one,
    encoded images stay encoded until that stage and JPEGs decode only the
    zoom-crop window.
    """
    if training and augment.rot90 and spec.height != spec.width:
        raise UsageError("augment_rot90", f"needs square images; the model takes {spec.height}x{spec.width}")
    if training and spec.channels == 1 and (augment.hue or augment.saturation):
        flag = "augment_hue" if augment.hue else "augment_saturation"
        raise UsageError(flag, "changes colour, and the model takes 1-channel (grayscale) images")
    augmenting = training and augment.enabled
    normalize = PREPROCESSORS[spec.preprocessing]
    # Uncached, decoding late lets JPEGs decode only the crop window; cached, decoding early
    # means later epochs skip decoding altogether (the cache holds full-size decoded images).
    late_decode = crop_decoder(spec.channels) if read is not None and augmenting and not cached else None

    def decode(x: tf.Tensor, label: tf.Tensor) -> tuple:
        if late_decode is not None:
            return read(x), label
        image = match_channels(x if read is None else decode_image(read(x), spec.channels), spec.channels)
        if augmenting:
            return image, label
        if cached:
            return resize_uint8(image, spec), label
        return normalize(resize_float(image, spec)), label

    def element(image: tf.Tensor, label: tf.Tensor, seed: tf.Tensor) -> tuple:
        return augment_image(image, spec, augment, seed, late_decode), label

    def batch(images: tf.Tensor, labels: tf.Tensor) -> tuple:
        return normalize(tf.cast(images, tf.float32)), labels

    return ImageStages(
        decode=decode,
        element=element if augmenting else None,
        batch=batch if cached and not augmenting else None,
    )
