"""Images and their per-pixel class masks (a task whose labels are masks), resized together.

What every mask source shares (``prepare``, ``check_augment``), and the ``tfds``
source's masks: a TFDS dataset with ``image`` and ``segmentation_mask``
(``open_tfds``). Mask folders are ``input_fns.mask_folder``.

The image is resized bilinearly and normalised as the model expects; the mask
is resized by nearest neighbour, so every pixel keeps a class id. Augmentation
would have to move both alike, and is refused for this task rather than
applied to the image alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import tensorflow as tf

from common.errors import UsageError
from common.params import IMAGES, AugmentParams, DataParams
from input_fns.pipeline_ops import PipelineOptions
from input_fns.preprocessing import PREPROCESSORS, ImageSpec, match_channels
from input_fns.source_base import Opened, SourceMeta
from input_fns.tfds_pairs import pairs_factory

if TYPE_CHECKING:  # TFDS loads only where a TFDS dataset is read: the gate's mask readers import this module
    import tensorflow_datasets as tfds

MASK_KEY = "segmentation_mask"  # as TFDS's oxford_iiit_pet names it


def check_augment(augment: AugmentParams) -> None:
    if augment.enabled:
        raise UsageError(
            "augment_*", "--task=segmentation takes no augmentation: it would move the image, not its mask"
        )


def prepare(image: tf.Tensor, mask: tf.Tensor, spec: ImageSpec) -> tuple[tf.Tensor, tf.Tensor]:
    """uint8 image [h, w, c] and mask [h, w, 1] -> the model's float image and an int32 mask [H, W, 1]."""
    image = tf.cast(match_channels(image, spec.channels), tf.float32)
    size = (spec.height, spec.width)
    image = tf.image.resize(image, size)
    mask = tf.image.resize(mask, size, method=tf.image.ResizeMethod.NEAREST_NEIGHBOR)
    return PREPROCESSORS[spec.preprocessing](image), tf.cast(mask, tf.int32)


def _tfds_factory(builder: tfds.core.DatasetBuilder, splits: dict[str, str], options: PipelineOptions):
    """The input_fns of ``({input_name: images}, masks)`` batches from the TFDS split of each role."""
    return pairs_factory(
        builder,
        splits,
        options,
        select=lambda ds: ds.map(lambda example: (example["image"], example[MASK_KEY])),
        decoder=lambda image_spec: lambda x, y: prepare(x, y, image_spec),
    )


def mask_classes(builder: tfds.core.DatasetBuilder) -> tuple[str, ...]:
    """The mask's class names: the dataset's metadata ``mask_classes``, else ids up to the largest found."""
    names = (builder.info.metadata or {}).get("mask_classes")
    if names:
        return tuple(names)
    import tensorflow_datasets as tfds

    top = 0
    for example in tfds.as_numpy(builder.as_dataset(split="train")):
        top = max(top, int(example[MASK_KEY].max()))
    return tuple(str(i) for i in range(top + 1))


def check_dataset(builder: tfds.core.DatasetBuilder) -> None:
    features = builder.info.features
    if "image" not in features or MASK_KEY not in features:
        raise UsageError(
            "task",
            f"'{builder.info.name}' has features {sorted(features)}; --task=segmentation needs 'image' and '{MASK_KEY}'",
        )


def open_tfds(data: DataParams, builder, splits: dict[str, str], sizes, train_files, options, gate_slice) -> Opened:
    """The images and masks of the TFDS splits of each role (``tfds_source.open`` has sized them and, for a
    sliced training split, named the records the gate reads in ``gate_slice``)."""
    check_dataset(builder)
    check_augment(data.augment)
    meta = SourceMeta(
        builder.info.name,
        IMAGES,
        mask_classes(builder),
        sizes,
        splits,
        image_shape=tuple(builder.info.features["image"].shape),
        train_files=train_files,
        gate_format="tfrecord",
        **gate_slice,
    )
    return meta, _tfds_factory(builder, splits, options)
