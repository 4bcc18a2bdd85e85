"""TFDS builders for the datasets kestrel ships, one folder each as `tfds new` lays them out; importing registers them."""

from input_fns.datasets.diabetes import diabetes_dataset_builder  # noqa: F401  (registers "diabetes")
from input_fns.datasets.digits import digits_dataset_builder  # noqa: F401  (registers "digits")
from input_fns.datasets.shapes import shapes_dataset_builder  # noqa: F401  (registers "shapes")
