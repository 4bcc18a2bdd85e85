"""Per-step time of an Estimator under a strategy: what mirroring costs over one device.

Each measurement trains the small CNN on digits through model_to_estimator
with a fresh model_dir, and times the steps after a warm-up (graph building,
the first batches and the cache fill do not count).
"""

from __future__ import annotations

import dataclasses
import statistics
import tempfile
import time

import tensorflow as tf

from estimators.distribute import strategy as distribution
from estimators.engines import conversion
from estimators.models import build_model
from estimators.models.spec import ModelSpec
from input_fns import pipeline_ops, tfds_source
from input_fns.pipeline_ops import InputRequest
from input_fns.preprocessing import ImageSpec


@dataclasses.dataclass(frozen=True)
class StepTiming:
    strategy: str
    replicas: int
    global_batch: int
    steps: int
    median_ms: float
    mean_ms: float
    p90_ms: float

    @property
    def examples_per_sec(self) -> float:
        return self.global_batch / (self.median_ms / 1000)


class StepTimer(tf.estimator.SessionRunHook):
    """Wall time of each session.run after ``warmup`` steps."""

    def __init__(self, warmup: int):
        self._warmup = warmup
        self._seen = 0
        self._last: float | None = None
        self.durations: list[float] = []

    def before_run(self, run_context):
        self._last = time.perf_counter()

    def after_run(self, run_context, run_values) -> None:
        self._seen += 1
        if self._seen > self._warmup:
            self.durations.append(time.perf_counter() - self._last)


def measure(
    strategy_name: str, global_batch: int, steps: int, warmup: int, data_dir: str, model_dir: str | None = None
) -> StepTiming:
    builder = tfds_source.load_builder("digits", data_dir)
    meta = tfds_source.dataset_meta(builder)
    image = ImageSpec(height=8, width=8, channels=1, preprocessing="unit")
    spec = ModelSpec(image=image, num_classes=meta.num_classes)
    strategy = distribution.make_strategy(strategy_name)
    replicas = distribution.num_replicas(strategy)
    distribution.per_replica_batch(global_batch, replicas)
    policy = conversion.CheckpointPolicy(
        save_checkpoints_steps=10 * (steps + warmup), save_summary_steps=10 * (steps + warmup)
    )
    with tempfile.TemporaryDirectory() as scratch:
        config = conversion.make_run_config(
            model_dir or scratch, policy, seed=1, train_distribute=strategy, eval_distribute=strategy
        )
        tf.keras.backend.clear_session()
        estimator = conversion.keras_to_estimator(build_model("small_cnn", spec), config)
        timer = StepTimer(warmup)
        input_fn = tfds_source.input_fn(
            builder, "train", InputRequest(pipeline_ops.FIT, global_batch, spec.input_name, image)
        )
        estimator.train(input_fn, max_steps=warmup + steps, hooks=[timer])
    ms = sorted(d * 1000 for d in timer.durations)
    return StepTiming(
        strategy=strategy_name,
        replicas=replicas,
        global_batch=global_batch,
        steps=len(ms),
        median_ms=statistics.median(ms),
        mean_ms=statistics.fmean(ms),
        p90_ms=ms[int(0.9 * (len(ms) - 1))],
    )
