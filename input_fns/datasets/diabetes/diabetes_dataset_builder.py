"""diabetes dataset: scikit-learn's 442 diabetes patients (10 baseline measurements, disease progression after a year).

Lecture 03 fits a regression DNN to Boston housing, which scikit-learn no
longer ships; this is the regression data it does ship, so preparing it needs
no network. The measurements are stored as recorded (age in years, sex 1/2,
BMI, blood pressure, six blood serum values), not scikit-learn's pre-scaled
copy: kestrel standardises them with the training rows' statistics.
"""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

_TEST_FRACTION = 0.2
_SPLIT_SEED = 0
FEATURES = ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")
TARGET = "target"


class Builder(tfds.core.GeneratorBasedBuilder):
    """Diabetes progression (regression, 10 numeric features), from scikit-learn."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Unscaled features; random 80/20 train/test split, seed 0."}

    def _info(self) -> tfds.core.DatasetInfo:
        columns = {name: tfds.features.Scalar(np.float32) for name in FEATURES}
        return self.dataset_info_from_configs(
            description="442 diabetes patients: 10 baseline measurements and a disease progression score a year later.",
            features=tfds.features.FeaturesDict({**columns, TARGET: tfds.features.Scalar(np.float32)}),
            supervised_keys=({name: name for name in FEATURES}, TARGET),
            homepage="https://www4.stat.ncsu.edu/~boos/var.select/diabetes.html",
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        from sklearn.datasets import load_diabetes
        from sklearn.model_selection import train_test_split

        data = load_diabetes(scaled=False)
        train_idx, test_idx = train_test_split(
            np.arange(len(data.target)), test_size=_TEST_FRACTION, random_state=_SPLIT_SEED
        )
        return {
            "train": self._generate_examples(data.data, data.target, train_idx),
            "test": self._generate_examples(data.data, data.target, test_idx),
        }

    def _generate_examples(self, rows: np.ndarray, targets: np.ndarray, indices: np.ndarray):
        for i in indices:
            example = {name: np.float32(value) for name, value in zip(FEATURES, rows[i], strict=True)}
            yield int(i), {**example, TARGET: np.float32(targets[i])}
