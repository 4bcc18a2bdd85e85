"""Retraining flags (scripts/retrain.py): spans, holdout, registry and serving paths, blessing, schedule."""

from __future__ import annotations

from absl import flags

from common.errors import UsageError
from pipeline.validation.config import RUNNING_MODES
from scripts.flags._gate import define_allow_anomalies_flag
from scripts.flags.core import FLAGS, record_from_flags
from scripts.flags.train import hparams


def define_retrain_flags() -> None:
    """scripts/retrain.py: spans, holdout, registry/serving paths, blessing, scheduling, registry commands."""
    from pipeline.retraining.config import RetrainConfig

    d = RetrainConfig(spans="", holdout="", work_dir="", serving_dir="")
    flags.DEFINE_string(
        "spans", None, "Where spans arrive: a folder of span folders (span-3, 2026-11-23) or a pattern with {SPAN}."
    )
    flags.DEFINE_string(
        "holdout", None, "The fixed holdout image folder every candidate and the served model are measured on."
    )
    flags.DEFINE_string(
        "work_dir", "/tmp/kestrel/retrain", "Run registry (registry.sqlite), lock, one model_dir per run."
    )
    flags.DEFINE_string(
        "serving_dir", "/tmp/kestrel/serving", "TF Serving base: versions go to <serving_dir>/<model_name>/<version>/."
    )
    flags.DEFINE_string("model_name", d.model_name, "Served model name (the folder under --serving_dir).")
    flags.DEFINE_integer("span_window", d.span_window, "Train on the newest K spans (rolling window).", lower_bound=1)
    flags.DEFINE_integer("keep_versions", d.keep_versions, "Serving versions to keep.", lower_bound=1)
    flags.DEFINE_float("bless_floor", d.blessing.floor, "Holdout accuracy a model must reach to be pushed at all.")
    flags.DEFINE_float(
        "bless_margin",
        d.blessing.margin,
        "How much worse than the served model's holdout accuracy a model may be.",
        lower_bound=0.0,
    )
    flags.DEFINE_boolean("force", False, "Retrain the newest span even if a run already decided on it.")
    define_allow_anomalies_flag()
    flags.DEFINE_boolean(
        "warm_start", True, "Start from the served model's checkpoint when model and schema are unchanged."
    )
    flags.DEFINE_enum(
        "validation_running_mode",
        d.validation_running_mode,
        list(RUNNING_MODES),
        "Beam DirectRunner mode of the validation gate; auto: in_memory on small spans, multi_processing on large.",
    )
    flags.DEFINE_string("every", None, "Stay in the foreground and run every interval (24h, 30m, 1h30m).")
    flags.DEFINE_boolean("list", False, "List the runs in the registry and exit.")
    flags.DEFINE_integer("show", None, "Show every field of one run and exit.")
    flags.DEFINE_boolean(
        "rollback", False, "Serve an earlier version (default: the one before the served one) and exit."
    )
    flags.DEFINE_integer("to_version", None, "With --rollback: the version to serve.", lower_bound=1)


def retrain_config_from_flags():
    """The RetrainConfig of scripts/retrain.py; training hyperparameters come from the train groups."""
    from pipeline.retraining.blessing import BlessingPolicy
    from pipeline.retraining.config import RetrainConfig

    f = FLAGS
    for name in ("model_dir", "overwrite_model_dir", "dataset", "data_dir", "download"):
        if f[name].present:
            raise UsageError(
                name, "not used by retraining: data comes from --spans, model_dirs live under --work_dir/runs"
            )
    for name in ("spans", "holdout"):
        if not f[name].value:
            raise UsageError(name, "required to run a retraining (--list, --show and --rollback need only --work_dir)")
    return record_from_flags(
        RetrainConfig, blessing=BlessingPolicy(floor=f.bless_floor, margin=f.bless_margin), hparams=hparams()
    )
