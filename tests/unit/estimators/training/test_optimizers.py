"""Optimizers, learning-rate schedules and losses from their records (estimators/training/optimizers.py)."""

import pytest
import tensorflow as tf

from common.errors import UsageError
from estimators.training import optimizers


def test_learning_rate_schedules():
    cosine = optimizers.OptimizerSpec(schedule="cosine", warmup_steps=10, total_steps=110)
    at = [float(optimizers.learning_rate_at(cosine, 0.1, step)) for step in (0, 5, 10, 60, 110)]
    assert at[0] == pytest.approx(0.0) and at[1] == pytest.approx(0.05) and at[2] == pytest.approx(0.1)
    assert at[3] == pytest.approx(0.05, abs=1e-6) and at[4] == pytest.approx(0.0, abs=1e-6)
    step = optimizers.OptimizerSpec(schedule="step", decay_steps=100, decay_rate=0.5)
    assert [float(optimizers.learning_rate_at(step, 0.1, s)) for s in (99, 100, 250)] == pytest.approx(
        [0.1, 0.05, 0.025]
    )
    assert float(optimizers.learning_rate_at(optimizers.OptimizerSpec(), 0.1, 5)) == pytest.approx(0.1)
    with pytest.raises(UsageError, match="--warmup_steps"):
        optimizers.OptimizerSpec(schedule="cosine", warmup_steps=100, total_steps=100)


@pytest.mark.parametrize("name,cls", [("adam", "Adam"), ("sgd", "SGD"), ("rmsprop", "RMSprop"), ("adagrad", "Adagrad")])
def test_optimizers_are_legacy(name, cls):
    optimizer = optimizers.make_optimizer(optimizers.OptimizerSpec(name=name), 0.01)
    assert isinstance(optimizer, tf.keras.optimizers.legacy.Optimizer) and type(optimizer).__name__ == cls


def test_label_smoothing_loss():
    loss = optimizers.make_loss(3, 0.1)
    probs = tf.constant([[0.7, 0.2, 0.1]])
    want = tf.keras.losses.categorical_crossentropy([[1.0, 0.0, 0.0]], probs, label_smoothing=0.1)
    assert float(loss(tf.constant([0]), probs)) == pytest.approx(float(want[0]), rel=1e-5)
    assert optimizers.make_loss(3, 0.0) == "sparse_categorical_crossentropy"
