"""Image restoration pairs: the input a corrupted copy of an image, the label the clean image itself.

The tasks whose labels are ``CLEAN_IMAGES`` (super_resolution, denoising) learn
an image back from a corruption their task record names, made here in the
input pipeline from any image dataset:

- ``bicubic_downgrade``: the clean image shrunk ``--scale`` times by bicubic
  interpolation with antialiasing (as MATLAB's ``imresize``, the documented
  DIV2K/EDSR downgrade); the model's input is the small image.
- ``gaussian_noise``: the clean image plus Gaussian noise of ``--noise_stddev``
  (pixels in [0, 1]), clipped to [0, 1]. The noise of an image is seeded by the
  run's seed and the image's position in its split, so each evaluation (and its
  baseline, the noisy input) sees the same noisy images.

Both images are float32 in [0, 1]. A dataset that holds the pairs itself (TFDS's
``div2k``: ``lr`` and ``hr``) is read as given, every pair checked for sizes
that match the scale.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from common import tasks
from common.errors import UsageError
from common.params import IMAGES, DataParams
from input_fns.pipeline_ops import PipelineOptions
from input_fns.preprocessing import ImageSpec, match_channels
from input_fns.source_base import Opened, SourceMeta
from input_fns.tfds_pairs import Decode, pairs_factory

BICUBIC, NOISE = "bicubic_downgrade", "gaussian_noise"
LR_KEY, HR_KEY = "lr", "hr"  # TFDS div2k's low- and high-resolution images
MIN_INPUT_SIDE = 8  # the smallest input a model sees: below it a 3x3 convolution sees mostly padding


@dataclasses.dataclass(frozen=True)
class Pairing:
    """How one task's inputs are made: its corruption and the factor from the input's size to the clean one's."""

    corruption: str
    scale: int  # the clean image is this many times the input's size (1: the same size)
    noise_stddev: float
    seed: int

    def corrupt(self, clean: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
        """The model's input made from ``clean`` (float [h, w, c] in [0, 1]), the ``index``-th image of its split."""
        if self.corruption == BICUBIC:
            height, width = tf.shape(clean)[0] // self.scale, tf.shape(clean)[1] // self.scale
            small = tf.image.resize(clean, (height, width), method="bicubic", antialias=True)
            return tf.clip_by_value(small, 0.0, 1.0)
        seed = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(index, tf.int64)])
        noise = tf.random.stateless_normal(tf.shape(clean), seed=seed, stddev=self.noise_stddev)
        return tf.clip_by_value(clean + noise, 0.0, 1.0)


def pairing(data: DataParams, seed: int | None) -> Pairing:
    corruption = tasks.get(data.task).corruption
    if corruption not in (BICUBIC, NOISE):
        raise ValueError(f"task {data.task}: unknown corruption '{corruption}'")
    scale = data.scale if corruption == BICUBIC else 1
    return Pairing(corruption, scale, data.noise_stddev, 0 if seed is None else seed)


def clean_image(image: tf.Tensor, spec: ImageSpec, scale: int) -> tf.Tensor:
    """A uint8 image [h, w, c] as the clean label: float in [0, 1], at ``scale`` times the model's input size."""
    image = tf.cast(match_channels(image, spec.channels), tf.float32) / 255.0
    size = (spec.height * scale, spec.width * scale)
    return tf.clip_by_value(tf.image.resize(image, size, method="bicubic", antialias=True), 0.0, 1.0)


def check_sizes(name: str, height: int | None, width: int | None, pair: Pairing) -> None:
    """A usage error naming ``name`` when its images are too small for the scale (or do not divide by it)."""
    if height is None or width is None:
        return
    smallest = MIN_INPUT_SIDE * pair.scale
    if height < smallest or width < smallest or height % pair.scale or width % pair.scale:
        raise UsageError(
            "scale",
            f"'{name}' holds {height}x{width} images; --scale={pair.scale} needs sides of at least {smallest} "
            f"that divide by {pair.scale} (inputs of at least {MIN_INPUT_SIDE} pixels)",
        )


def _made_pairs(builder, splits: dict[str, str], options: PipelineOptions, pair: Pairing, image_key: str):
    """The input_fns of ``({input_name: corrupted}, clean)`` batches made from the images of each role."""

    def decoder(image_spec: ImageSpec) -> Decode:
        def decode(image: tf.Tensor, index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            clean = clean_image(image, image_spec, pair.scale)
            return pair.corrupt(clean, index), clean

        return decode

    # An image's position in its split seeds its corruption: the files are read in order.
    select = lambda ds: ds.enumerate().map(lambda i, example: (example[image_key], i))  # noqa: E731
    return pairs_factory(builder, splits, options, select, decoder, shuffle_files=False)


def _given_pairs(builder, splits: dict[str, str], options: PipelineOptions, pair: Pairing):
    """The input_fns of a dataset that holds its pairs (``lr``, ``hr``): aligned crops of the model's size."""

    def decoder(image_spec: ImageSpec) -> Decode:
        height, width, scale = image_spec.height, image_spec.width, pair.scale

        def decode(lr: tf.Tensor, hr: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            # The top-left crop of the input's size and the high-resolution crop it covers.
            lr = tf.cast(match_channels(lr, image_spec.channels), tf.float32)[:height, :width] / 255.0
            hr = tf.cast(match_channels(hr, image_spec.channels), tf.float32)[: height * scale, : width * scale]
            return tf.ensure_shape(lr, image_spec.shape), tf.ensure_shape(
                hr / 255.0, (height * scale, width * scale, None)
            )

        return decode

    select = lambda ds: ds.map(lambda example: (example[LR_KEY], example[HR_KEY]))  # noqa: E731
    return pairs_factory(builder, splits, options, select, decoder)


def check_given_pairs(builder, split: str, pair: Pairing, crop: int) -> None:
    """Every (lr, hr) pair of ``split``: the high-resolution image ``scale`` times the low one, which holds a crop
    of ``crop`` pixels, or an error naming the dataset, the split and the pair."""
    for i, example in enumerate(tfds.as_numpy(builder.as_dataset(split=split, shuffle_files=False))):
        lr, hr = np.shape(example[LR_KEY]), np.shape(example[HR_KEY])
        if hr[0] != lr[0] * pair.scale or hr[1] != lr[1] * pair.scale:
            raise UsageError(
                "scale",
                f"'{builder.data_dir}' {split} pair {i}: '{LR_KEY}' is {lr[1]}x{lr[0]} and '{HR_KEY}' {hr[1]}x{hr[0]}; "
                f"--scale={pair.scale} needs '{HR_KEY}' exactly {pair.scale} times '{LR_KEY}' on both sides",
            )
        if lr[0] < crop or lr[1] < crop:
            raise UsageError(
                "image_size",
                f"'{builder.data_dir}' {split} pair {i}: '{LR_KEY}' is {lr[1]}x{lr[0]}, too small for "
                f"--scale={pair.scale} crops of {crop}x{crop}; allowed: --image_size up to its smaller side",
            )


def open_tfds(data: DataParams, builder, splits: dict[str, str], sizes, train_files, options, gate_slice) -> Opened:
    """A TFDS dataset's images as restoration pairs for each role (``tfds_source.open`` has sized the splits)."""
    pair = pairing(data, options.seed)
    features = builder.info.features
    given = LR_KEY in features and HR_KEY in features and pair.corruption == BICUBIC
    if not given and data.image_key not in features:
        raise UsageError(
            "task",
            f"'{builder.info.name}' has features {sorted(features)}; --task={data.task} needs images "
            f"('{data.image_key}', or '{LR_KEY}' and '{HR_KEY}' pairs for super_resolution)",
        )
    if given:
        for split in splits.values():
            check_given_pairs(builder, split, pair, max(MIN_INPUT_SIDE, data.image_size or 0))
        shape = tuple(features[LR_KEY].shape)
        factory = _given_pairs(builder, splits, options, pair)
    else:
        height, width, channels = features[data.image_key].shape
        check_sizes(builder.info.name, height, width, pair)
        shape = (height and height // pair.scale, width and width // pair.scale, channels)
        factory = _made_pairs(builder, splits, options, pair, data.image_key)
    if data.augment.enabled:
        raise UsageError("augment_*", f"--task={data.task} takes no augmentation: it would change the label too")
    meta = SourceMeta(
        builder.info.name,
        IMAGES,
        (),
        sizes,
        splits,
        image_shape=shape,
        train_files=train_files,
        gate_format="tfrecord",
        upscale=pair.scale,
        **gate_slice,
    )
    return meta, factory
