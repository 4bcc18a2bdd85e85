"""Forecasting models of Deep Learning with Python ch. 10: dense, 1D convolution, LSTM, GRU over a window.

Each reads ``window`` [batch, steps, columns] of raw values, standardises it
with the training part's statistics (a fixed Normalization layer, so the
export takes raw windows) and ends in the forecasting task's head, which gives the
forecast back in the target's units. The recurrent models take
``--recurrent_dropout`` on their state and ``--dropout`` before their head, as
the book's regularised LSTM and GRU do (recurrent_dropout=0.25, dropout=0.5);
recurrent dropout is off by default: it costs the fused kernel, 2-3x the time.
"""

from __future__ import annotations

import tensorflow as tf

from common.errors import UsageError
from estimators.models.spec import ModelSpec
from estimators.tasks import compile_for_task, task_head
from input_fns.timeseries_source import WINDOW_INPUT

layers = tf.keras.layers
RECURRENT_UNITS = 16  # the book's first LSTM; small enough for a run of minutes on two cores
DENSE_UNITS = 16
CONV_FILTERS = 8


def _window(spec: ModelSpec) -> tuple[tf.keras.Input, tf.Tensor]:
    if spec.series is None:
        raise UsageError("model", "the forecasting models read windows of a series (--source=timeseries)")
    inputs = tf.keras.Input(shape=spec.series.shape, name=WINDOW_INPUT)
    variance = [s**2 for s in spec.series.std]
    return inputs, layers.Normalization(mean=list(spec.series.mean), variance=variance, name="standardise")(inputs)


def _model(inputs: tf.keras.Input, x: tf.Tensor, spec: ModelSpec, name: str) -> tf.keras.Model:
    return compile_for_task(tf.keras.Model(inputs, task_head(x, spec), name=name), spec)


def build_dense(spec: ModelSpec) -> tf.keras.Model:
    """Flatten -> Dense(16, relu) -> the forecast (the book's densely connected model)."""
    inputs, x = _window(spec)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(DENSE_UNITS, activation="relu", name="hidden")(x)
    return _model(inputs, x, spec, "dense_forecast")


def build_conv1d(spec: ModelSpec) -> tf.keras.Model:
    """Three Conv1D (kernels 24, 12, 6 steps) with pooling, global average -> the forecast (the book's)."""
    inputs, x = _window(spec)
    steps = spec.series.window_steps
    for i, kernel in enumerate((24, 12, 6), start=1):
        x = layers.Conv1D(CONV_FILTERS, min(kernel, steps), activation="relu", padding="same", name=f"conv{i}")(x)
        if i < 3 and x.shape[1] >= 2:
            x = layers.MaxPooling1D(2, name=f"pool{i}")(x)
    x = layers.GlobalAveragePooling1D(name="average")(x)
    return _model(inputs, x, spec, "conv1d_forecast")


def _recurrent(spec: ModelSpec, cell, name: str) -> tf.keras.Model:
    inputs, x = _window(spec)
    x = cell(RECURRENT_UNITS, recurrent_dropout=spec.recurrent_dropout, name=name)(x)
    if spec.dropout:
        x = layers.Dropout(spec.dropout, name=f"{name}_dropout")(x)
    return _model(inputs, x, spec, f"{name}_forecast")


def build_lstm(spec: ModelSpec) -> tf.keras.Model:
    return _recurrent(spec, layers.LSTM, "lstm")


def build_gru(spec: ModelSpec) -> tf.keras.Model:
    return _recurrent(spec, layers.GRU, "gru")
