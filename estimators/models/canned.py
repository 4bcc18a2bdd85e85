"""Canned Estimators for tabular data: DNNClassifier and DNNLinearCombinedClassifier on feature columns."""

from __future__ import annotations

import tensorflow as tf

from common.errors import UsageError
from estimators.models.spec import ModelSpec
from estimators.training.optimizers import make_optimizer


def feature_columns(spec: ModelSpec) -> list:
    if not spec.features:
        raise UsageError("model", "canned Estimators need named numeric features; the input has none")
    return [tf.feature_column.numeric_column(name, shape=(width,)) for name, width in spec.features]


def make_canned_estimator(name: str, spec: ModelSpec, config: tf.estimator.RunConfig) -> tf.estimator.Estimator:
    if spec.label_smoothing:
        raise UsageError("label_smoothing", f"'{name}' is a canned Estimator, which has no label smoothing")
    columns = feature_columns(spec)

    # A callable: the canned Estimator builds a fresh optimizer in each graph it makes.
    def optimizer():
        return make_optimizer(spec.optimizer, spec.learning_rate)

    if name == "canned_dnn":
        return tf.estimator.DNNClassifier(
            hidden_units=list(spec.hidden_units),
            feature_columns=columns,
            n_classes=spec.num_classes,
            optimizer=optimizer,
            dropout=spec.dropout or None,
            config=config,
        )
    if name == "canned_wide_deep":
        return tf.estimator.DNNLinearCombinedClassifier(
            linear_feature_columns=columns,
            dnn_feature_columns=columns,
            dnn_hidden_units=list(spec.hidden_units),
            dnn_optimizer=optimizer,
            dnn_dropout=spec.dropout or None,
            n_classes=spec.num_classes,
            config=config,
        )
    raise UsageError("model", f"'{name}' is not a canned Estimator")
