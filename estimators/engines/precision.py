"""The mixed-precision policy: Keras's global dtype policy, set once before any model is built."""

from __future__ import annotations

import tensorflow as tf


def set_mixed_precision(enabled: bool, on_tpu: bool = False) -> str:
    """Set Keras's global dtype policy before models are built; returns the policy name.

    float16 with loss scaling where there is a GPU, bfloat16 on TPUs and CPUs
    (which have no float16 speed-up, and bfloat16 needs no loss scaling).
    """
    if not enabled:
        policy = "float32"
    elif tf.config.list_physical_devices("GPU") and not on_tpu:
        policy = "mixed_float16"
    else:
        policy = "mixed_bfloat16"
    tf.keras.mixed_precision.set_global_policy(policy)
    return policy
