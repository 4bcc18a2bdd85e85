"""The record every model builder takes, and the pieces they share: head and compile step."""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from common.tasks import CLASSIFICATION, FORECASTING, REGRESSION, TASKS
from estimators.models.optimizers import OptimizerSpec, make_loss, make_optimizer
from input_fns.preprocessing import ImageSpec
from input_fns.timeseries_source import SeriesSpec

INPUT_NAME = "image"
OUTPUT_NAME = "probabilities"
WEIGHTS_NONE = "none"
WEIGHTS_IMAGENET = "imagenet"


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """Everything a builder needs: input, classes, optimiser settings and per-family options.

    Builders read only the fields their family uses: ``weights`` and
    ``trainable_base`` the transfer models, ``hub_handle`` the TF-Hub model,
    ``features`` and ``hidden_units`` the tabular DNN, ``augment`` the CNNs.
    """

    image: ImageSpec | None
    num_classes: int  # classification; a regression model has one output
    task: str = CLASSIFICATION  # common.tasks
    learning_rate: float = 1e-3
    dropout: float = 0.25
    input_name: str = INPUT_NAME
    optimizer: OptimizerSpec = OptimizerSpec()
    label_smoothing: float = 0.0
    # Transfer learning: "imagenet", "none" or a local weights file; the base stays frozen
    # unless trainable_base (for the Hub model, hub.KerasLayer's trainable switch).
    weights: str = WEIGHTS_NONE
    trainable_base: bool = False
    l2: float = 0.01
    hub_handle: str | None = None
    # Tabular: (feature name, width) for each input, in order.
    features: tuple[tuple[str, int], ...] = ()
    hidden_units: tuple[int, ...] = (128, 64)
    # CNNs: in-model augmentation ("none", "shift", "flip_shift"), active in training only.
    augment: str = "none"
    # Forecasting: the window (steps, columns) and the training part's statistics of each column.
    series: SeriesSpec | None = None
    recurrent_dropout: float = 0.0


def classifier_head(x: tf.Tensor, spec: ModelSpec, l2: float | None = None) -> tf.Tensor:
    """Softmax over the classes, in float32 even under a mixed-precision policy."""
    regularizer = tf.keras.regularizers.l2(l2) if l2 else None
    return tf.keras.layers.Dense(
        spec.num_classes, activation="softmax", kernel_regularizer=regularizer, dtype="float32", name=OUTPUT_NAME
    )(x)


def compile_classifier(model: tf.keras.Model, spec: ModelSpec) -> tf.keras.Model:
    # model_to_estimator only accepts the legacy (v1-style) optimizers in TF 2.11+;
    # make_optimizer builds only those, and Model.fit takes them as well.
    model.compile(
        optimizer=make_optimizer(spec.optimizer, spec.learning_rate),
        loss=make_loss(spec.num_classes, spec.label_smoothing),
        metrics=[tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    return model


def regression_head(x: tf.Tensor) -> tf.Tensor:
    """One linear output, in float32 even under a mixed-precision policy."""
    return tf.keras.layers.Dense(1, dtype="float32", name=TASKS[REGRESSION].output)(x)


def forecast_head(x: tf.Tensor, spec: ModelSpec) -> tf.Tensor:
    """One linear output in standard units, given back in the target's own (the training part's mean and std)."""
    series = spec.series
    target = series.target_index
    x = tf.keras.layers.Dense(1, dtype="float32", name="forecast_standardised")(x)
    return tf.keras.layers.Rescaling(
        series.std[target], series.mean[target], dtype="float32", name=TASKS[FORECASTING].output
    )(x)


def task_head(x: tf.Tensor, spec: ModelSpec, l2: float | None = None) -> tf.Tensor:
    if spec.task == FORECASTING:
        return forecast_head(x, spec)
    return regression_head(x) if spec.task == REGRESSION else classifier_head(x, spec, l2)


def compile_for_task(model: tf.keras.Model, spec: ModelSpec) -> tf.keras.Model:
    """The task's loss and metrics under the names common.tasks gives them (the engines read those)."""
    if spec.task == CLASSIFICATION:
        return compile_classifier(model, spec)
    # Regression and forecasting: mean squared error, the mean absolute error in the target's units.
    model.compile(
        optimizer=make_optimizer(spec.optimizer, spec.learning_rate),
        loss=tf.keras.losses.MeanSquaredError(),
        metrics=[tf.keras.metrics.MeanAbsoluteError(name="mae")],
    )
    return model
