"""Training flags: engine, steps, batch, optimizer and schedule, regularisation, early stopping, stages."""

from __future__ import annotations

from absl import flags

from common.params import EARLY_STOPPING_METRICS, ENGINES, OPTIMIZERS, SCHEDULES, TrainingParams
from scripts.flags.core import define_flags, record_from_flags

_T = TrainingParams()
# A global batch that still fits an int32 batch dimension with room to spare.
MAX_BATCH_SIZE = 1_000_000


# Flag -> help; booleans have no validator, so defining them apart leaves the validators' order as it was.
_SWITCHES = {
    "mixed_precision": "float16 compute on GPU, bfloat16 on TPU and CPU.",
    "bottleneck_cache": "Frozen base: cache its features, train the head.",
    "report": "Write report/ (per-class precision, recall, confusion matrix PNG).",
}


def define_training_flags() -> None:
    t = _T
    define_flags(__name__, flags.DEFINE_boolean, t, _SWITCHES)
    flags.DEFINE_enum(
        "engine",
        t.engine,
        list(ENGINES),
        "estimator: model_to_estimator / canned; keras: Model.fit (--strategy=tpu: the default); tpu_estimator.",
    )
    flags.DEFINE_integer(
        "batch_size",
        t.batch_size,
        "Global batch size (all replicas together).",
        lower_bound=1,
        upper_bound=MAX_BATCH_SIZE,
    )
    flags.DEFINE_integer("train_steps", t.train_steps, "Training steps (the global step to stop at).", lower_bound=1)
    flags.DEFINE_integer(
        "eval_steps", t.eval_steps, "Validation batches; default: the whole validation split.", lower_bound=1
    )
    flags.DEFINE_integer("eval_throttle_secs", t.eval_throttle_secs, "Seconds between evaluations.", lower_bound=0)
    flags.DEFINE_integer("seed", t.seed, "Seed for weights, shuffling, the carved validation split and TF ops.")
    flags.DEFINE_integer("progress_every_steps", t.progress_every_steps, "Steps between progress lines.", lower_bound=1)
    flags.DEFINE_enum("optimizer", t.optimizer, list(OPTIMIZERS), "Optimizer (the same for every engine).")
    flags.DEFINE_float("momentum", t.momentum, "Momentum of sgd and rmsprop.", lower_bound=0.0)
    flags.DEFINE_enum("lr_schedule", t.lr_schedule, list(SCHEDULES), "Learning-rate schedule.")
    flags.DEFINE_integer("lr_decay_steps", t.lr_decay_steps, "step: steps between decays.", lower_bound=1)
    flags.DEFINE_float("lr_decay_rate", t.lr_decay_rate, "step: factor per decay.", lower_bound=0.0)
    flags.DEFINE_integer("warmup_steps", t.warmup_steps, "cosine: linear warm-up steps.", lower_bound=0)
    flags.DEFINE_float("label_smoothing", t.label_smoothing, "Label smoothing.", lower_bound=0.0, upper_bound=0.99)
    flags.DEFINE_integer(
        "early_stopping_steps",
        t.early_stopping_steps,
        "Stop after this many steps without improvement on validation.",
        lower_bound=1,
    )
    flags.DEFINE_enum(
        "early_stopping_metric",
        t.early_stopping_metric,
        list(EARLY_STOPPING_METRICS),
        "Validation metric to watch; default: the task's (accuracy, mae).",
    )
    flags.DEFINE_string("bottleneck_dir", t.bottleneck_dir, "Feature cache directory; default: <model_dir>/bottleneck.")


def training_params() -> TrainingParams:
    return record_from_flags(TrainingParams)
