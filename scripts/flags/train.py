"""The groups a training run takes (scripts/train.py, scripts/retrain.py), and the Hparams they make."""

from __future__ import annotations

from common.params import Hparams
from scripts.flags import _data, _distribution, _gate, _model, _output, _training

TRAIN_GROUPS = (_data, _model, _training, _distribution, _output)


def define_train_flags(gate: bool = True, tflite: bool = True) -> tuple:
    """Every training group, and the gate group unless the caller runs its own gate (retraining);
    ``tflite``: --tflite_output_file (retraining publishes by its push instead).

    Returns the group modules, for the script to adopt as its key flags (``--helpshort``):
    absl ties key flags to the module that declares them, so the script must do it.
    """
    _data.define_data_flags()
    _model.define_model_flags()
    _training.define_training_flags()
    _distribution.define_distribution_flags()
    _output.define_output_flags(tflite=tflite)
    if gate:
        _gate.define_gate_flags()
    return (*TRAIN_GROUPS, *((_gate,) if gate else ()))


def hparams() -> Hparams:
    """One immutable record of every training flag; the run flow reads only this."""
    gate = _gate.gate_params() if "validate_data" in _gate.FLAGS else Hparams().gate
    distribution = _distribution.distribution_params()
    return Hparams(
        data=_data.data_params(),
        model=_model.model_params(),
        training=_distribution.engine_for_strategy(_training.training_params(), distribution),
        distribution=distribution,
        output=_output.output_params(),
        gate=gate,
    )


def checked_hparams() -> Hparams:
    """``hparams()`` and the engine's distribution check on them: what a run would refuse, from the
    flags alone (tests run it on every command the docs and the cloud launchers print).
    Imports TensorFlow, unlike the rest of scripts/flags."""
    from estimators.engines import check_distribution

    hp = hparams()
    check_distribution(hp.training.engine, hp.distribution)
    return hp
