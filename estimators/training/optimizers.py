"""Optimizers, learning-rate schedules and the classification loss both engines share.

Everything here builds *legacy* Keras optimizers: model_to_estimator accepts
only those in TF 2.11+, and Model.fit takes them too, so the two engines train
with the very same update rule. A schedule is a Keras LearningRateSchedule of
the optimizer's step, which model_to_estimator ties to the Estimator's
global_step, so a warm-up or a decay follows the run's step under both engines.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from common.errors import UsageError
from common.params import OPTIMIZERS, SCHEDULES


@dataclasses.dataclass(frozen=True)
class OptimizerSpec:
    """Which optimizer, and how its learning rate moves with the step.

    ``step`` multiplies the rate by ``decay_rate`` every ``decay_steps``;
    ``cosine`` ramps linearly from 0 over ``warmup_steps`` and then follows a
    cosine to 0 at ``total_steps``.
    """

    name: str = "adam"
    momentum: float = 0.9  # sgd and rmsprop
    schedule: str = "constant"
    decay_steps: int = 1000
    decay_rate: float = 0.5
    warmup_steps: int = 0
    total_steps: int = 2000

    def __post_init__(self) -> None:
        if self.name not in OPTIMIZERS:
            raise UsageError("optimizer", f"unknown optimizer '{self.name}'; allowed: {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise UsageError("lr_schedule", f"unknown schedule '{self.schedule}'; allowed: {', '.join(SCHEDULES)}")
        if self.schedule == "cosine" and self.warmup_steps >= self.total_steps:
            raise UsageError(
                "warmup_steps", f"{self.warmup_steps} warm-up steps leave none of the {self.total_steps} to decay over"
            )


def make_schedule(
    spec: OptimizerSpec, learning_rate: float
) -> float | tf.keras.optimizers.schedules.LearningRateSchedule:
    if spec.schedule == "constant":
        return learning_rate
    if spec.schedule == "step":
        return tf.keras.optimizers.schedules.ExponentialDecay(
            learning_rate, decay_steps=spec.decay_steps, decay_rate=spec.decay_rate, staircase=True
        )
    # Keras's CosineDecay has its own linear warm-up from initial_learning_rate to warmup_target.
    return tf.keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if spec.warmup_steps else learning_rate,
        decay_steps=spec.total_steps - spec.warmup_steps,
        warmup_target=learning_rate if spec.warmup_steps else None,
        warmup_steps=spec.warmup_steps,
    )


def learning_rate_at(spec: OptimizerSpec, learning_rate: float, step: tf.Tensor) -> tf.Tensor:
    """The rate the schedule gives at ``step``, for a TensorBoard summary."""
    schedule = make_schedule(spec, learning_rate)
    if callable(schedule):
        return tf.cast(schedule(step), tf.float32)
    return tf.constant(schedule, tf.float32)


def make_optimizer(spec: OptimizerSpec, learning_rate: float) -> tf.keras.optimizers.legacy.Optimizer:
    rate = make_schedule(spec, learning_rate)
    legacy = tf.keras.optimizers.legacy
    if spec.name == "adam":
        return legacy.Adam(learning_rate=rate)
    if spec.name == "sgd":
        return legacy.SGD(learning_rate=rate, momentum=spec.momentum)
    if spec.name == "rmsprop":
        return legacy.RMSprop(learning_rate=rate, momentum=spec.momentum)
    return legacy.Adagrad(learning_rate=rate)


@tf.keras.utils.register_keras_serializable(package="kestrel")
class SmoothedSparseCrossentropy(tf.keras.losses.Loss):
    """Cross-entropy on integer labels with label smoothing.

    Keras's SparseCategoricalCrossentropy has no label_smoothing; this one-hot
    encodes the labels and uses the categorical loss, which has. Registered so
    model_to_estimator's clone of the compiled model can rebuild it.
    """

    def __init__(self, num_classes: int, label_smoothing: float, name: str = "smoothed_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_classes = num_classes
        self.label_smoothing = label_smoothing

    def call(self, y_true, y_pred):
        labels = tf.one_hot(tf.cast(tf.reshape(y_true, [-1]), tf.int32), self.num_classes)
        return tf.keras.losses.categorical_crossentropy(labels, y_pred, label_smoothing=self.label_smoothing)

    def get_config(self) -> dict:
        return {**super().get_config(), "num_classes": self.num_classes, "label_smoothing": self.label_smoothing}


def make_loss(num_classes: int, label_smoothing: float) -> str | tf.keras.losses.Loss:
    if not 0.0 <= label_smoothing < 1.0:
        raise UsageError("label_smoothing", f"{label_smoothing} is outside [0, 1)")
    if label_smoothing == 0.0:
        return "sparse_categorical_crossentropy"
    return SmoothedSparseCrossentropy(num_classes, label_smoothing)
