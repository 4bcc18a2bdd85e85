"""The devices of this machine: the host CPU split into logical devices, and what one machine mirrors over."""

from __future__ import annotations

import tensorflow as tf

from common.errors import UsageError


def configure_logical_cpus(count: int) -> None:
    """Split the host CPU into ``count`` logical devices, so mirrored has replicas without GPUs.

    Must run before TensorFlow initialises its devices (before the first op);
    a no-op for ``count`` <= 1.
    """
    if count <= 1:
        return
    (cpu,) = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError:
        existing = len(tf.config.list_logical_devices("CPU"))
        if existing != count:
            raise UsageError(
                "logical_cpu_devices", f"TensorFlow already started with {existing} CPU device(s); set it at start-up"
            ) from None


def local_devices(num_gpus: int) -> list[str]:
    """The devices one machine mirrors over: its GPUs, or else every logical CPU device."""
    if num_gpus:
        available = len(tf.config.list_physical_devices("GPU"))
        if available < num_gpus:
            raise UsageError("num_gpus", f"{num_gpus} GPU(s) asked for, {available} visible")
        return [f"/gpu:{i}" for i in range(num_gpus)]
    return [f"/cpu:{i}" for i in range(len(tf.config.list_logical_devices("CPU")))]
