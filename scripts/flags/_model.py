"""Model flags: which model from the registry, its base, head and fine-tuning."""

from __future__ import annotations

import math

from absl import flags

from common.params import CNN_AUGMENTATIONS, ModelParams
from estimators.models.registry import MODELS
from scripts.flags.core import FLAGS, define_flags, record_from_flags

_M = ModelParams()
_DROPOUTS = {  # flag -> help
    "dropout": "Dropout rate.",
    "recurrent_dropout": "Forecasting lstm/gru: dropout of the recurrent state (book: 0.25; slower).",
}


def define_model_flags(one_model: bool = True) -> None:
    """The model group; ``one_model=False`` leaves out the flags that choose or shape one named model
    (--model, --hub_handle, --hidden_units, --cnn_augment): a command comparing backbones names its own."""
    m = _M
    if one_model:
        flags.DEFINE_enum("model", m.name, list(MODELS), "A Keras model builder or a canned Estimator (the registry).")
    flags.DEFINE_float("learning_rate", m.learning_rate, "Optimizer learning rate (> 0).")
    flags.register_validator("learning_rate", lambda v: math.isfinite(v) and v > 0, "must be a finite number above 0")
    define_flags(__name__, flags.DEFINE_float, m, _DROPOUTS, lower_bound=0.0, upper_bound=0.99)
    flags.DEFINE_string(
        "weights", m.weights, "Transfer models' base: imagenet (downloads unless cached), none, or a local .h5 file."
    )
    if one_model:
        flags.DEFINE_string(
            "hub_handle", m.hub_handle, "The hub model's module: a TF-Hub URL or a local SavedModel dir."
        )
    flags.DEFINE_boolean(
        "trainable_base", m.trainable_base, "Train the base (hub.KerasLayer trainable) from the start."
    )
    flags.DEFINE_float("l2", m.l2, "L2 factor on the transfer head's Dense kernel.", lower_bound=0.0)
    if one_model:
        flags.DEFINE_list("hidden_units", [str(u) for u in m.hidden_units], "Hidden layer sizes of the DNNs.")
        flags.register_validator(
            "hidden_units", positive_ints, "must be a comma-separated list of positive layer sizes"
        )
        flags.DEFINE_enum("cnn_augment", m.augment, list(CNN_AUGMENTATIONS), "In-model augmentation of the CIFAR CNNs.")
    flags.DEFINE_integer(
        "fine_tune_steps", m.fine_tune_steps, "Stage-2 steps with the top of the base unfrozen; 0: none.", lower_bound=0
    )
    flags.DEFINE_string("fine_tune_from", m.fine_tune_from, "Stage 2 unfreezes the base from this layer on.")
    flags.DEFINE_float(
        "fine_tune_fraction", m.fine_tune_fraction, "Or: the top fraction of the base's layers.", lower_bound=0.0
    )
    flags.DEFINE_float(
        "fine_tune_lr_factor",
        m.fine_tune_lr_factor,
        "Stage 2's learning-rate factor (the notes: 10x lower).",
        lower_bound=0.0,
    )


def positive_ints(values: list[str]) -> bool:
    """A flags.register_validator check: a non-empty list of positive integers."""
    return bool(values) and all(v.strip().isdigit() and int(v) > 0 for v in values)


def model_params() -> ModelParams:
    return record_from_flags(
        ModelParams,
        {"name": "model", "augment": "cnn_augment"},
        hidden_units=tuple(int(v) for v in FLAGS.hidden_units),
    )
