"""shapes dataset: coloured circles, squares and triangles on noisy backgrounds, with their segmentation masks.

Deep Learning with Python (ch. 9) segments Oxford-IIIT Pets, which cannot be
downloaded here. This is generated instead (seeded, no network), with the
features TFDS's oxford_iiit_pet has: ``image`` and ``segmentation_mask``. A
shape's colour is drawn at random, so the classes differ by form alone.

Since 1.1.0 each example also carries its shapes as ``objects`` the way voc and
coco do (``objects/bbox``, normalised [ymin, xmin, ymax, xmax], and
``objects/label``), for detection. A box bounds the shape's visible pixels (a
later shape may cover part of an earlier one); a shape covered entirely has no
box. The images and masks are those of 1.0.0.
"""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

SIZE = 64
MASK_CLASSES = ("background", "circle", "square", "triangle")
OBJECT_CLASSES = MASK_CLASSES[1:]  # objects/label 0 is mask class 1
_SPLITS = {"train": (800, 0), "test": (200, 1)}  # examples, seed


def draw(rng: np.random.Generator, size: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """One uint8 [size, size, 3] image and its uint8 [size, size, 1] mask (0: background)."""
    image, mask, _, _ = draw_objects(rng, size)
    return image, mask


def draw_objects(rng: np.random.Generator, size: int = SIZE) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """draw()'s image and mask (the same random numbers), and each visible shape's box and object label.

    Boxes are float32 [n, 4] normalised [ymin, xmin, ymax, xmax] around the shape's visible pixels (pixel
    edges, so a one-pixel shape has a box of 1/size); labels int64 [n], an index into OBJECT_CLASSES.
    """
    smooth = rng.normal(0, 1, (size // 8, size // 8, 3)).repeat(8, 0).repeat(8, 1)
    image = 110 + 35 * smooth + rng.normal(0, 18, (size, size, 3))
    mask = np.zeros((size, size), np.uint8)
    owner = np.full((size, size), -1, np.int64)  # which shape each pixel shows, to box the visible parts
    kinds = []
    rows, cols = np.mgrid[0:size, 0:size]
    for index in range(rng.integers(1, 4)):
        kind = int(rng.integers(1, len(MASK_CLASSES)))
        radius = rng.uniform(size * 0.1, size * 0.22)
        cy, cx = rng.uniform(radius, size - radius, 2)
        if kind == 1:
            inside = (rows - cy) ** 2 + (cols - cx) ** 2 <= radius**2
        elif kind == 2:
            inside = (np.abs(rows - cy) <= radius * 0.85) & (np.abs(cols - cx) <= radius * 0.85)
        else:  # an upright triangle: below the apex, within the two slanted edges
            top, bottom = cy - radius, cy + radius
            half_width = (rows - top) / (2 * radius) * radius
            inside = (rows >= top) & (rows <= bottom) & (np.abs(cols - cx) <= half_width)
        colour = rng.uniform(0, 255, 3)
        image[inside] = colour + rng.normal(0, 12, (int(inside.sum()), 3))
        mask[inside] = kind
        owner[inside] = index
        kinds.append(kind)
    boxes, labels = _visible_boxes(owner, kinds, size)
    return np.clip(image, 0, 255).astype(np.uint8), mask[..., None], boxes, labels


def _visible_boxes(owner: np.ndarray, kinds: list[int], size: int) -> tuple[np.ndarray, np.ndarray]:
    boxes, labels = [], []
    for index, kind in enumerate(kinds):
        ys, xs = np.nonzero(owner == index)
        if len(ys):
            boxes.append([ys.min() / size, xs.min() / size, (ys.max() + 1) / size, (xs.max() + 1) / size])
            labels.append(kind - 1)
    return np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(labels, np.int64)


class Builder(tfds.core.GeneratorBasedBuilder):
    """Generated 64x64 shapes with per-pixel masks (background, circle, square, triangle) and their boxes."""

    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES = {
        "1.0.0": "800 train and 200 test images, seeds 0 and 1.",
        "1.1.0": "objects (bbox, label) of each visible shape, for detection; images and masks unchanged.",
    }

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            description="Coloured shapes on noisy backgrounds, 64x64, with masks of 4 classes: "
            + ", ".join(MASK_CLASSES),
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(SIZE, SIZE, 3)),
                    "segmentation_mask": tfds.features.Image(shape=(SIZE, SIZE, 1)),
                    "objects": tfds.features.Sequence(
                        {
                            "bbox": tfds.features.BBoxFeature(),
                            "label": tfds.features.ClassLabel(names=list(OBJECT_CLASSES)),
                        }
                    ),
                }
            ),
            supervised_keys=("image", "segmentation_mask"),
            metadata=tfds.core.MetadataDict(mask_classes=list(MASK_CLASSES)),
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        return {name: self._generate_examples(count, seed) for name, (count, seed) in _SPLITS.items()}

    def _generate_examples(self, count: int, seed: int):
        rng = np.random.default_rng(seed)
        for i in range(count):
            image, mask, boxes, labels = draw_objects(rng)
            yield i, {"image": image, "segmentation_mask": mask, "objects": {"bbox": boxes, "label": labels}}
