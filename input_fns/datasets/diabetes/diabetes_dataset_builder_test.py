"""diabetes dataset: TFDS's own builder test (`tfds new`'s layout), run by pytest or `python -m` this module."""

from input_fns.datasets import builder_testing
from input_fns.datasets.diabetes import diabetes_dataset_builder

DiabetesTest = builder_testing.builder_test_case(
    "DiabetesTest", diabetes_dataset_builder.Builder, {"train": 353, "test": 89}
)

if __name__ == "__main__":
    builder_testing.main()
