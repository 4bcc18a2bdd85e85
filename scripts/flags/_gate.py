"""Gate flags: the data-validation gate before training, and the one switch that lets findings through."""

from __future__ import annotations

import os

from absl import flags

from common.params import MAX_BAD_RECORD_FRACTION, GateParams
from pipeline.validation.config import RUNNING_MODES
from scripts.flags.core import FLAGS


def define_allow_anomalies_flag() -> None:
    """Shared by train, validate_data and retrain: defined once, here."""
    flags.DEFINE_boolean(
        "allow_anomalies",
        False,
        "Go on despite the validation gate's findings; the verdict records that they were allowed.",
    )


def define_max_bad_record_fraction_flag() -> None:
    """One threshold, defined once: the trainer's --check_images (data flags) and every gate read it."""
    flags.DEFINE_float(
        "max_bad_record_fraction",
        MAX_BAD_RECORD_FRACTION,
        "Bad records tolerated (unusable image files, malformed CSV lines, unparseable records), as a fraction "
        "of all read: they are skipped and named; above it the data is refused (exit 3).",
        lower_bound=0.0,
        upper_bound=1.0,
    )


def define_gate_flags() -> None:
    flags.DEFINE_boolean(
        "validate_data", True, "Run the TFDV gate on the training data first; refuse bad data (exit 3)."
    )
    define_allow_anomalies_flag()
    flags.DEFINE_enum(
        "gate_running_mode",
        GateParams().running_mode,
        list(RUNNING_MODES),
        "Beam DirectRunner mode of the gate; auto: in_memory on small data, multi_processing on large.",
    )
    flags.DEFINE_string(
        "gate_cache_dir",
        None,
        "Where the gate remembers its verdicts by data fingerprint, so unchanged data (the same file contents, "
        "schema and gate settings) is not validated again; default "
        "$XDG_CACHE_HOME/kestrel/gate (~/.cache/kestrel/gate); empty: validate every time.",
    )
    flags.register_validator("gate_cache_dir", _cache_dir_is_a_folder, "must be a directory, or empty (no cache)")


def _cache_dir_is_a_folder(value: str | None) -> bool:
    return not value or not os.path.exists(value) or os.path.isdir(value)


def default_gate_cache_dir() -> str:
    cache_home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache_home, "kestrel", "gate")


def gate_params() -> GateParams:
    f = FLAGS
    cache_dir = default_gate_cache_dir() if f.gate_cache_dir is None else f.gate_cache_dir
    return GateParams(
        validate=f.validate_data,
        allow_anomalies=f.allow_anomalies,
        running_mode=f.gate_running_mode,
        cache_dir=cache_dir,
    )
