"""One factory from a strategy name to a tf.distribute.Strategy for RunConfig."""

from __future__ import annotations

import tensorflow as tf

from common.errors import UsageError

STRATEGIES = ("default", "one_device", "mirrored")


def make_strategy(name: str, num_gpus: int = 0) -> tf.distribute.Strategy | None:
    """None means no strategy: the Estimator's own single-device placement."""
    if name == "default":
        return None
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy("/gpu:0" if num_gpus else "/cpu:0")
    if name == "mirrored":
        devices = [f"/gpu:{i}" for i in range(num_gpus)] or None
        # NCCL all-reduce needs GPUs, and the default picks it up wrongly on
        # CPU devices (a model_to_estimator Estimator hangs in its first step);
        # reducing to one device works everywhere.
        return tf.distribute.MirroredStrategy(devices=devices, cross_device_ops=tf.distribute.ReductionToOneDevice())
    raise UsageError("strategy", f"unknown strategy '{name}'; allowed: {', '.join(STRATEGIES)}")
