"""digits dataset: TFDS's own builder test (`tfds new`'s layout), run by pytest or `python -m` this module."""

from input_fns.datasets import builder_testing
from input_fns.datasets.digits import digits_dataset_builder

DigitsTest = builder_testing.builder_test_case(
    "DigitsTest", digits_dataset_builder.Builder, {"train": 1437, "test": 360}
)

if __name__ == "__main__":
    builder_testing.main()
