"""shapes dataset: TFDS's own builder test (`tfds new`'s layout): registration, preparation, splits, features.

Runs with `python -m pytest input_fns/datasets/shapes` or `python -m input_fns.datasets.shapes.shapes_dataset_builder_test`.
"""

import tensorflow_datasets as tfds

from input_fns.datasets.shapes import shapes_dataset_builder


class ShapesTest(tfds.testing.DatasetBuilderTestCase):
    """The builder downloads nothing (dummy_data/README.txt): the test prepares the real splits."""

    DATASET_CLASS = shapes_dataset_builder.Builder
    SPLITS = {"train": 800, "test": 200}


if __name__ == "__main__":
    tfds.testing.test_main()
