"""diabetes dataset: TFDS's own builder test (`tfds new`'s layout): registration, preparation, splits, features.

Runs with `python -m pytest input_fns/datasets/diabetes` or `python -m input_fns.datasets.diabetes.diabetes_dataset_builder_test`.
"""

import tensorflow_datasets as tfds

from input_fns.datasets.diabetes import diabetes_dataset_builder


class DiabetesTest(tfds.testing.DatasetBuilderTestCase):
    """The builder downloads nothing (dummy_data/README.txt): the test prepares the real splits."""

    DATASET_CLASS = diabetes_dataset_builder.Builder
    SPLITS = {"train": 353, "test": 89}


if __name__ == "__main__":
    tfds.testing.test_main()
