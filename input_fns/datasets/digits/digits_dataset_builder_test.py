"""digits dataset: TFDS's own builder test (`tfds new`'s layout): registration, preparation, splits, features.

Runs with `python -m pytest input_fns/datasets/digits` or `python -m input_fns.datasets.digits.digits_dataset_builder_test`.
"""

import tensorflow_datasets as tfds

from input_fns.datasets.digits import digits_dataset_builder


class DigitsTest(tfds.testing.DatasetBuilderTestCase):
    """The builder downloads nothing (dummy_data/README.txt): the test prepares the real splits."""

    DATASET_CLASS = digits_dataset_builder.Builder
    SPLITS = {"train": 1437, "test": 360}


if __name__ == "__main__":
    tfds.testing.test_main()
