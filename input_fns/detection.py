"""Images and their objects' boxes (the ``tfds`` source for detection), encoded as a dense target per grid cell.

A TFDS dataset with ``image`` and ``objects`` holding ``bbox`` (normalised
[ymin, xmin, ymax, xmax], as tfds.features.BBoxFeature stores them) and
``label`` (a ClassLabel), as voc and coco have them, and kestrel's ``shapes``.

A detector predicts a fixed-size tensor, so the variable-length box lists are
encoded here, in the input pipeline, as CenterNet does: on a grid of
``image // STRIDE`` cells, per class a heatmap that is 1 at the cell of each
object's centre and falls off as a Gaussian of the object's size, and per cell
the centre's offset in the cell and the box's height and width in cells. Both
engines then train on ``(image, grid)`` pairs with an ordinary Keras loss.

Every split's boxes are checked before training: a box outside the image, an
ill-formed one (min not below max) or an example without boxes is named in one
line.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from common.errors import UsageError
from common.params import IMAGES, DataParams
from input_fns.pipeline_ops import PipelineOptions
from input_fns.preprocessing import PREPROCESSORS, ImageSpec, match_channels
from input_fns.source_base import Opened, SourceMeta
from input_fns.tfds_pairs import pairs_factory

OBJECTS, BBOX, LABEL = "objects", "bbox", "label"  # as TFDS's voc and coco name them
STRIDE = 4  # input pixels per grid cell: image sides must divide by it
BOX_CHANNELS = 4  # per cell after the class heatmaps: offset y, offset x (in the cell), height, width (in cells)


def grid_size(spec: ImageSpec) -> tuple[int, int]:
    return spec.height // STRIDE, spec.width // STRIDE


def encode(boxes: tf.Tensor, labels: tf.Tensor, rows: int, cols: int, num_classes: int) -> tf.Tensor:
    """Boxes [n, 4] (normalised) and labels [n] -> the float32 target [rows, cols, num_classes + 4].

    The heatmap is exactly 1 at an object's centre cell and below 1 elsewhere (a Gaussian of sigma a sixth of
    the box's larger side, as CenterNet's radius), so a loss finds the centres as the cells where it is 1.
    Two objects whose centres share a cell keep the last one's box.
    """
    boxes = tf.reshape(tf.cast(boxes, tf.float32), [-1, 4])
    scale = tf.constant([rows, cols, rows, cols], tf.float32)
    cells = boxes * scale
    centre = (cells[:, :2] + cells[:, 2:]) / 2.0
    size = cells[:, 2:] - cells[:, :2]
    index = tf.minimum(tf.cast(tf.floor(centre), tf.int32), [rows - 1, cols - 1])
    offset = centre - tf.cast(index, tf.float32)
    sigma = tf.maximum(tf.reduce_max(size, axis=1) / 6.0, 0.5)
    yy = tf.cast(tf.range(rows), tf.float32)[None, :, None]
    xx = tf.cast(tf.range(cols), tf.float32)[None, None, :]
    iy = tf.cast(index[:, 0], tf.float32)[:, None, None]
    ix = tf.cast(index[:, 1], tf.float32)[:, None, None]
    gauss = tf.exp(-((yy - iy) ** 2 + (xx - ix) ** 2) / (2.0 * sigma[:, None, None] ** 2))  # [n, rows, cols]
    per_class = gauss[..., None] * tf.one_hot(tf.cast(labels, tf.int32), num_classes)[:, None, None, :]
    heat = tf.reduce_max(tf.concat([tf.zeros([1, rows, cols, num_classes]), per_class], axis=0), axis=0)
    geometry = tf.tensor_scatter_nd_update(
        tf.zeros([rows, cols, BOX_CHANNELS]), index, tf.concat([offset, size], axis=1)
    )
    return tf.concat([heat, geometry], axis=-1)


def prepare(image: tf.Tensor, objects: dict, spec: ImageSpec, num_classes: int) -> tuple[tf.Tensor, tf.Tensor]:
    """A uint8 image and its objects -> the model's float image and its grid target (boxes are normalised,
    so resizing the image leaves them as they are)."""
    image = tf.image.resize(tf.cast(match_channels(image, spec.channels), tf.float32), (spec.height, spec.width))
    rows, cols = grid_size(spec)
    target = encode(objects[BBOX], objects[LABEL], rows, cols, num_classes)
    return PREPROCESSORS[spec.preprocessing](image), target


def _factory(builder: tfds.core.DatasetBuilder, splits: dict[str, str], options: PipelineOptions, num_classes: int):
    return pairs_factory(
        builder,
        splits,
        options,
        select=lambda ds: ds.map(lambda example: (example["image"], example[OBJECTS])),
        decoder=lambda image_spec: lambda x, y: prepare(x, y, image_spec, num_classes),
    )


def check_dataset(builder: tfds.core.DatasetBuilder) -> tuple[str, ...]:
    """The object class names; a usage error unless the dataset has an image and objects with bbox and label."""
    features = builder.info.features
    inner = getattr(features[OBJECTS], "feature", None) if OBJECTS in features else None  # a Sequence's dict
    keys = set(inner.keys()) if hasattr(inner, "keys") else set()
    if "image" not in features or not {BBOX, LABEL} <= keys:
        raise UsageError(
            "task",
            f"'{builder.info.name}' has features {sorted(features)}; --task=detection needs 'image' and "
            f"'{OBJECTS}' with '{BBOX}' and '{LABEL}' (as voc and coco have them)",
        )
    label = inner[LABEL]
    if not isinstance(label, tfds.features.ClassLabel):
        raise UsageError("task", f"'{OBJECTS}/{LABEL}' of '{builder.info.name}' is not a ClassLabel")
    return tuple(label.names)


def box_fault(boxes: np.ndarray) -> str | None:
    """What is wrong with an example's boxes [n, 4] (normalised [ymin, xmin, ymax, xmax]), or None."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4) if np.size(boxes) % 4 == 0 else None
    if boxes is None:
        return "boxes are not [ymin, xmin, ymax, xmax] quadruples"
    if not len(boxes):
        return "has no boxes; every example needs at least one object"
    for i, (ymin, xmin, ymax, xmax) in enumerate(boxes):
        box = f"box {i} [{ymin:.3g}, {xmin:.3g}, {ymax:.3g}, {xmax:.3g}]"
        if not np.all(np.isfinite(boxes[i])) or min(ymin, xmin) < 0 or max(ymax, xmax) > 1:
            return f"{box} is outside the image; allowed: normalised coordinates in [0, 1]"
        if ymin >= ymax or xmin >= xmax:
            return f"{box} is ill-formed; allowed: ymin < ymax and xmin < xmax"
    return None


def check_boxes(builder: tfds.core.DatasetBuilder, split: str, num_classes: int) -> None:
    """A usage error naming the first example of ``split`` whose boxes or labels are wrong (its shard and index)."""
    read_config = tfds.ReadConfig(add_tfds_id=True, try_autocache=False)
    ds = builder.as_dataset(split=split, shuffle_files=False, read_config=read_config)
    ds = ds.map(lambda e: (e["tfds_id"], e[OBJECTS][BBOX], e[OBJECTS][LABEL]))
    for tfds_id, boxes, labels in ds.as_numpy_iterator():
        fault = box_fault(boxes)
        if fault is None and (len(labels) != len(boxes) or np.any((labels < 0) | (labels >= num_classes))):
            fault = f"labels {labels.tolist()} do not match its {len(boxes)} boxes in 0 to {num_classes - 1}"
        if fault:
            shard, _, index = tfds_id.decode().rpartition("__")
            raise UsageError("dataset", f"'{builder.info.name}' {split}: record {index} of {shard}: {fault}")


def open_tfds(data: DataParams, builder, splits: dict[str, str], sizes, train_files, options, gate_slice) -> Opened:
    """The images and encoded boxes of the TFDS splits of each role (``tfds_source.open`` sized them)."""
    class_names = check_dataset(builder)
    if data.augment.enabled:
        raise UsageError("augment_*", "--task=detection takes no augmentation: it would move the image, not its boxes")
    for split in splits.values():
        check_boxes(builder, split, len(class_names))
    meta = SourceMeta(
        builder.info.name,
        IMAGES,
        class_names,
        sizes,
        splits,
        image_shape=tuple(builder.info.features["image"].shape),
        train_files=train_files,
        gate_format="tfrecord",
        **gate_slice,
    )
    return meta, _factory(builder, splits, options, len(class_names))
