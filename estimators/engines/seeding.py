"""The run's random number generators: Python's, NumPy's and TensorFlow's global seed, and op determinism.

Set once, before the engine builds the model: its initial weights and the
Keras layers' own randomness (dropout, augmentation) draw from these.
"""

from __future__ import annotations

import tensorflow as tf

from common.errors import UsageError


def set_seeds(seed: int | None, deterministic_ops: bool = False) -> None:
    """Seed Python, NumPy and TensorFlow; optionally make TF ops deterministic.

    Op determinism makes two runs with the same seed bit-identical (on one
    device) at some speed cost, and makes ops without a deterministic kernel
    raise instead of silently differing.
    """
    if seed is not None:
        # Python's random, NumPy and TensorFlow's global seed, in one call.
        tf.keras.utils.set_random_seed(seed)
    if deterministic_ops:
        if seed is None:
            raise UsageError("deterministic_ops", "op determinism needs a --seed")
        tf.config.experimental.enable_op_determinism()
