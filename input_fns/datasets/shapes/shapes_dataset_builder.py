"""shapes dataset: coloured circles, squares and triangles on noisy backgrounds, with their segmentation masks.

Deep Learning with Python (ch. 9) segments Oxford-IIIT Pets, which cannot be
downloaded here. This is generated instead (seeded, no network), with the
features TFDS's oxford_iiit_pet has: ``image`` and ``segmentation_mask``. A
shape's colour is drawn at random, so the classes differ by form alone.
"""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

SIZE = 64
MASK_CLASSES = ("background", "circle", "square", "triangle")
_SPLITS = {"train": (800, 0), "test": (200, 1)}  # examples, seed


def draw(rng: np.random.Generator, size: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """One uint8 [size, size, 3] image and its uint8 [size, size, 1] mask (0: background)."""
    smooth = rng.normal(0, 1, (size // 8, size // 8, 3)).repeat(8, 0).repeat(8, 1)
    image = 110 + 35 * smooth + rng.normal(0, 18, (size, size, 3))
    mask = np.zeros((size, size), np.uint8)
    rows, cols = np.mgrid[0:size, 0:size]
    for _ in range(rng.integers(1, 4)):
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
    return np.clip(image, 0, 255).astype(np.uint8), mask[..., None]


class Builder(tfds.core.GeneratorBasedBuilder):
    """Generated 64x64 shapes with per-pixel masks: background, circle, square, triangle."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "800 train and 200 test images, seeds 0 and 1."}

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            description="Coloured shapes on noisy backgrounds, 64x64, with masks of 4 classes: "
            + ", ".join(MASK_CLASSES),
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(SIZE, SIZE, 3)),
                    "segmentation_mask": tfds.features.Image(shape=(SIZE, SIZE, 1)),
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
            image, mask = draw(rng)
            yield i, {"image": image, "segmentation_mask": mask}
