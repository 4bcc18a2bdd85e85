"""Image + mask folders for segmentation: ``--image_dir`` of images, ``--mask_dir`` of PNG masks named alike.

Oxford-IIIT Pets ships this way (images/ and annotations/trimaps/): each image
``<stem>.<ext>`` has the mask ``<mask_dir>/<stem>.png``, one class id per pixel,
of the image's own size. Every pair is checked before training starts: an
image without its mask, a mask of another size, a mask value outside the
classes, or a mask without an image is one usage error naming the file.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import tensorflow as tf
from PIL import Image

from common.errors import UsageError
from common.files import IMAGE_EXTENSIONS
from common.params import IMAGES, TEST, TRAIN, VALIDATION, DataParams
from input_fns import pipeline_ops, segmentation
from input_fns.pipeline_ops import InputFn, InputRequest, PipelineOptions
from input_fns.preprocessing import decode_image
from input_fns.source_base import Opened, SourceMeta, class_names, described

Pairs = list[tuple[str, str]]  # (image path, mask path)


@dataclasses.dataclass(frozen=True)
class MaskFolder:
    splits: dict[str, Pairs]  # by role
    class_names: tuple[str, ...]


def _pairs(image_dir: str, mask_dir: str, flag: str) -> Pairs:
    if not tf.io.gfile.isdir(image_dir):
        raise UsageError(flag, f"'{image_dir}' is not a folder of images")
    names = sorted(n for n in tf.io.gfile.listdir(image_dir) if n.lower().endswith(IMAGE_EXTENSIONS))
    if not names:
        raise UsageError(flag, f"no {'/'.join(IMAGE_EXTENSIONS)} images in '{image_dir}'")
    pairs = []
    for name in names:
        mask = os.path.join(mask_dir, os.path.splitext(name)[0] + ".png")
        if not tf.io.gfile.exists(mask):
            raise UsageError("mask_dir", f"'{os.path.join(image_dir, name)}' has no mask: expected '{mask}'")
        pairs.append((os.path.join(image_dir, name), mask))
    return pairs


def _check_pair(image: str, mask: str, classes: int | None) -> int:
    """The largest class id in ``mask``, after checking it matches ``image``'s size (and the classes)."""
    try:
        with tf.io.gfile.GFile(image, "rb") as f:
            size = Image.open(f).size
        with tf.io.gfile.GFile(mask, "rb") as f:
            values = np.asarray(Image.open(f))
    except (OSError, ValueError) as err:
        raise UsageError("mask_dir", f"cannot read '{image}' or its mask '{mask}' ({err})") from None
    if values.shape[:2] != (size[1], size[0]):
        found, wanted = f"{values.shape[1]}x{values.shape[0]}", f"{size[0]}x{size[1]}"
        raise UsageError(
            "mask_dir", f"'{mask}' is {found}; its image '{image}' is {wanted}: a mask has its image's size"
        )
    if values.ndim == 3:
        raise UsageError("mask_dir", f"'{mask}' has {values.shape[2]} channels; a mask holds one class id per pixel")
    top = int(values.max())
    if classes is not None and top >= classes:
        raise UsageError(
            "mask_dir", f"'{mask}' holds class {top}; allowed: 0 to {classes - 1} (--class_names names {classes})"
        )
    return top


def load(
    image_dir: str,
    mask_dir: str | None,
    test_dir: str | None,
    val_fraction: float,
    seed: int,
    class_names: tuple[str, ...] | None,
) -> MaskFolder:
    if not mask_dir:
        raise UsageError("mask_dir", "not set; --task=segmentation on --source=image_folder reads a mask per image")
    train = _pairs(image_dir, mask_dir, "image_dir")
    test = _pairs(test_dir, mask_dir, "test_dir") if test_dir else []
    used = {mask for _, mask in train + test}
    orphans = sorted(n for n in tf.io.gfile.listdir(mask_dir) if os.path.join(mask_dir, n) not in used)
    if orphans:
        raise UsageError(
            "mask_dir",
            f"{len(orphans)} file(s) in '{mask_dir}' are no image's mask (first: {orphans[0]}); one mask per image",
        )
    classes = len(class_names) if class_names else None
    top = max(_check_pair(image, mask, classes) for image, mask in train + test)
    order = np.random.default_rng(seed).permutation(len(train))
    cut = int(round(len(train) * val_fraction))
    if not 0 < cut < len(train):
        raise UsageError("val_fraction", f"{val_fraction} of {len(train)} images leaves a role empty")
    splits = {TRAIN: [train[i] for i in order[cut:]], VALIDATION: [train[i] for i in order[:cut]]}
    if test:
        splits[TEST] = test
    return MaskFolder(splits, tuple(class_names) if class_names else tuple(str(i) for i in range(top + 1)))


def open(data: DataParams, seed: int | None, options: PipelineOptions) -> Opened:
    """``--image_dir`` with ``--mask_dir`` (``image_folder.open`` for a task whose labels are masks)."""
    segmentation.check_augment(data.augment)
    names = class_names(data.class_names, 0) if data.class_names else None
    folder = load(data.image_dir, data.mask_dir, data.test_dir, data.val_fraction, seed or 0, names)
    meta = SourceMeta(
        data.image_dir,
        IMAGES,
        folder.class_names,
        {role: len(pairs) for role, pairs in folder.splits.items()},
        described(folder.splits, {TRAIN: data.image_dir, TEST: data.test_dir}, data),
        image_shape=(None, None, 3),
    )

    def factory(role: str, request: InputRequest) -> InputFn:
        return _input_fn(folder.splits[role], request, options)

    return meta, factory


def _input_fn(pairs: Pairs, request: InputRequest, options: PipelineOptions) -> InputFn:
    images, masks = [p for p, _ in pairs], [m for _, m in pairs]

    def read(image_path: tf.Tensor, mask_path: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        image = decode_image(tf.io.read_file(image_path), request.image_spec.channels)
        mask = tf.io.decode_png(tf.io.read_file(mask_path), channels=1)
        return segmentation.prepare(image, mask, request.image_spec)

    def build(mode: str, input_context: tf.distribute.InputContext | None) -> tf.data.Dataset:
        ds = tf.data.Dataset.from_tensor_slices((images, masks))
        return pipeline_ops.finish_named(
            ds, mode, request.batch_size, options, input_context, request.input_name, decode=read
        )

    return pipeline_ops.estimator_input_fn(build, request.mode)
