"""Validation flags (scripts/validate_data.py): inputs, schema, environments, drift and skew limits, Beam runner."""

from __future__ import annotations

import math

from absl import flags

from common.errors import UsageError
from scripts.flags._gate import define_allow_anomalies_flag, define_max_bad_record_fraction_flag
from scripts.flags.core import FLAGS, record_from_flags


def define_validation_flags() -> None:
    """scripts/validate_data.py: inputs, schema, environments, drift/skew thresholds, Beam runner."""
    from pipeline.validation.config import (
        AUTO_MULTI_PROCESSING_BYTES,
        ENVIRONMENTS,
        FORMATS,
        RUNNING_MODES,
        ValidationConfig,
    )

    d = ValidationConfig(data=(), artifacts_dir="/tmp/kestrel/validation")
    flags.DEFINE_multi_string("data", None, "Data to validate: TFRecord/CSV glob (local or gs://) or image folder.")
    flags.DEFINE_enum("data_format", d.data_format, FORMATS, "Input format; auto: from the file names.")
    flags.DEFINE_multi_string("serving_data", None, "Serving data to measure training/serving skew against.")
    flags.DEFINE_enum("environment", d.environment, ENVIRONMENTS, "Schema environment (no label in SERVING).")
    flags.DEFINE_string("label_feature", d.label, "Label feature: required in TRAINING, absent in SERVING.")
    flags.DEFINE_string("artifacts_dir", d.artifacts_dir, "Schema and per-span statistics, anomalies and reports.")
    flags.DEFINE_integer("span", None, "Span number; default: the next after the newest in --artifacts_dir.")
    flags.DEFINE_string("schema_path", None, "Curated schema .pbtxt; default: <artifacts_dir>/schema.pbtxt.")
    flags.DEFINE_boolean("update_schema", False, "Relax the curated schema to accept this span (kept as .bak).")
    define_allow_anomalies_flag()
    flags.DEFINE_string("previous_statistics", None, "Statistics to measure drift against; default: previous span.")
    define_max_bad_record_fraction_flag()
    flags.DEFINE_string("csv_delimiter", d.csv_delimiter, "CSV field delimiter.")
    flags.DEFINE_boolean("semantic_domain_stats", d.semantic_domain_stats, "Image format/size, text, time stats.")
    t = d.thresholds
    flags.DEFINE_float("categorical_drift_threshold", t.categorical_drift, "L-infinity drift limit; 0: off.")
    flags.DEFINE_float("numeric_drift_threshold", t.numeric_drift, "Jensen-Shannon drift limit; 0: off.")
    flags.DEFINE_float("categorical_skew_threshold", t.categorical_skew, "L-infinity skew limit; 0: off.")
    flags.DEFINE_float("numeric_skew_threshold", t.numeric_skew, "Jensen-Shannon skew limit; 0: off.")
    flags.DEFINE_list("drift_thresholds", [], "Per-feature drift limits: feature=value,...")
    flags.DEFINE_list("skew_thresholds", [], "Per-feature skew limits: feature=value,...")
    flags.DEFINE_string("beam_args", "", "Beam pipeline options ('--runner=DataflowRunner ...'), or after --.")
    flags.DEFINE_enum(
        "direct_running_mode",
        d.runner.direct_running_mode,
        RUNNING_MODES,
        f"DirectRunner mode; auto: in_memory below {AUTO_MULTI_PROCESSING_BYTES // 2**20} MiB of input (or on one "
        "core), multi_processing from there.",
    )
    flags.DEFINE_integer("direct_num_workers", 0, "DirectRunner workers; 0: one per core.", lower_bound=0)
    flags.DEFINE_integer("progress_every_rows", d.progress_every_rows, "Rows between progress lines.", lower_bound=0)


def _feature_thresholds(flag: str) -> tuple[tuple[str, float], ...]:
    pairs = []
    for item in FLAGS[flag].value:
        name, sep, value = item.partition("=")
        try:
            limit = float(value)
        except ValueError:
            sep, limit = "", 0.0
        if not sep or not name.strip():
            raise UsageError(flag, f"'{item}' is not feature=value")
        if not math.isfinite(limit):
            # An infinite limit would silently turn the feature's check off: 0 says so.
            raise UsageError(flag, f"'{item}': the limit must be a finite number (0 turns the check off)")
        pairs.append((name.strip(), limit))
    return tuple(pairs)


def validation_config_from_flags(extra_beam_args: tuple[str, ...] = ()):
    """The ValidationConfig of scripts/validate_data.py; ``extra_beam_args`` come after ``--``."""
    from pipeline.validation.config import RunnerOptions, Thresholds, ValidationConfig
    from pipeline.validation.statistics import parse_beam_args

    f = FLAGS
    # Every other field is read from the flag of its name (record_from_flags).
    return record_from_flags(
        ValidationConfig,
        data=tuple(f.data or ()),
        serving_data=tuple(f.serving_data or ()),
        label=f.label_feature or None,
        thresholds=record_from_flags(
            Thresholds,
            {limit: f"{limit}_threshold" for limit in _LIMITS},
            drift_overrides=_feature_thresholds("drift_thresholds"),
            skew_overrides=_feature_thresholds("skew_thresholds"),
        ),
        runner=record_from_flags(RunnerOptions, beam_args=parse_beam_args(f.beam_args) + tuple(extra_beam_args)),
    )


# Thresholds' fields whose flags end in _threshold.
_LIMITS = ("categorical_drift", "numeric_drift", "categorical_skew", "numeric_skew")
