"""TFDS builders for the datasets kestrel ships; importing registers them."""

from input_fns.datasets import digits  # noqa: F401  (registers "digits")
