"""digits dataset: scikit-learn's 1,797 8x8 UCI handwritten digits, in the layout `tfds new` writes.

The data ships inside scikit-learn, so preparing it needs no network.
"""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

_TEST_FRACTION = 0.2
_SPLIT_SEED = 0
# The UCI digits hold ink counts 0..16 per 4x4 block; stretch them to the
# 0..255 range every image pipeline expects of a uint8 image.
_INK_TO_UINT8 = 255.0 / 16.0


class Builder(tfds.core.GeneratorBasedBuilder):
    """UCI handwritten digits (8x8 grayscale), from scikit-learn."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Stratified 80/20 train/test split, seed 0."}

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            description="1,797 8x8 images of handwritten digits (UCI ML), as shipped by scikit-learn.",
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(8, 8, 1)),
                    "label": tfds.features.ClassLabel(names=[str(d) for d in range(10)]),
                }
            ),
            supervised_keys=("image", "label"),
            homepage="https://archive.ics.uci.edu/dataset/80",
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        digits = load_digits()
        images = np.round(digits.images * _INK_TO_UINT8).astype(np.uint8)[..., np.newaxis]
        indices = np.arange(len(images))
        train_idx, test_idx = train_test_split(
            indices, test_size=_TEST_FRACTION, random_state=_SPLIT_SEED, stratify=digits.target
        )
        return {
            "train": self._generate_examples(images, digits.target, train_idx),
            "test": self._generate_examples(images, digits.target, test_idx),
        }

    def _generate_examples(self, images: np.ndarray, labels: np.ndarray, indices: np.ndarray):
        for i in indices:
            yield int(i), {"image": images[i], "label": int(labels[i])}
