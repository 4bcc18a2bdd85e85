"""shapes dataset: TFDS's own builder test (`tfds new`'s layout), run by pytest or `python -m` this module."""

from input_fns.datasets import builder_testing
from input_fns.datasets.shapes import shapes_dataset_builder

ShapesTest = builder_testing.builder_test_case(
    "ShapesTest", shapes_dataset_builder.Builder, {"train": 800, "test": 200}
)

if __name__ == "__main__":
    builder_testing.main()
