"""A DNN for tabular data: one named input per feature, hidden ReLU layers with dropout, a classifier or regression head."""

from __future__ import annotations

import tensorflow as tf

from common.errors import UsageError
from estimators.models.spec import ModelSpec
from estimators.tasks import compile_for_task, task_head


def build_dnn(spec: ModelSpec) -> tf.keras.Model:
    """Inputs keyed by feature name (as a CSV or feature-dict input_fn yields them), concatenated."""
    if not spec.features:
        raise UsageError("model", "'dnn' needs named numeric features; the input has none")
    if not spec.hidden_units:
        raise UsageError("hidden_units", "give at least one hidden layer size")
    layers = tf.keras.layers
    inputs = [tf.keras.Input(shape=(width,), name=name) for name, width in spec.features]
    x = inputs[0] if len(inputs) == 1 else layers.Concatenate(name="features")(inputs)
    for i, units in enumerate(spec.hidden_units, start=1):
        x = layers.Dense(units, activation="relu", name=f"hidden{i}")(x)
        x = layers.Dropout(spec.dropout, name=f"hidden{i}_dropout")(x)
    return compile_for_task(tf.keras.Model(inputs, task_head(x, spec), name="dnn"), spec)
