"""What the datasets' builder tests share: TFDS's own builder test case, bound to one builder and its split sizes.

Each `<name>_dataset_builder_test.py` keeps only its dataset's facts (builder class, split sizes) and calls
`builder_test_case`; `main` runs it as `python -m input_fns.datasets.<name>.<name>_dataset_builder_test`.
"""

import tensorflow_datasets as tfds


def builder_test_case(name: str, builder: type, splits: dict[str, int]) -> type:
    """A `tfds.testing.DatasetBuilderTestCase` for `builder`: registration, preparation, splits, features.

    The builders download nothing (dummy_data/README.txt), so the case prepares the real splits and checks
    their sizes against `splits`.
    """
    return type(name, (tfds.testing.DatasetBuilderTestCase,), {"DATASET_CLASS": builder, "SPLITS": splits})


def main() -> None:
    """Runs the calling module's builder test the way `tfds new`'s layout does."""
    tfds.testing.test_main()
