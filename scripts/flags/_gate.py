"""Gate flags: the data-validation gate before training, and the one switch that lets findings through."""

from __future__ import annotations

from absl import flags

from common.params import GateParams
from pipeline.validation.config import RUNNING_MODES
from scripts.flags.core import FLAGS


def define_allow_anomalies_flag() -> None:
    """Shared by train, validate_data and retrain: defined once, here."""
    flags.DEFINE_boolean(
        "allow_anomalies",
        False,
        "Go on despite the validation gate's findings; the verdict records that they were allowed.",
    )


def define_gate_flags() -> None:
    flags.DEFINE_boolean(
        "validate_data", True, "Run the TFDV gate on the training data first; refuse bad data (exit 3)."
    )
    define_allow_anomalies_flag()
    flags.DEFINE_enum(
        "gate_running_mode", GateParams().running_mode, list(RUNNING_MODES), "Beam DirectRunner mode of the gate."
    )


def gate_params() -> GateParams:
    f = FLAGS
    return GateParams(validate=f.validate_data, allow_anomalies=f.allow_anomalies, running_mode=f.gate_running_mode)
