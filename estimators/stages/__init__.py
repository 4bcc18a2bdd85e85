"""Training stages as transformations of a Job: the bottleneck cache and two-stage fine-tuning.

``plan`` turns the one job the flow describes into the jobs an engine runs in
order. With the bottleneck cache, stage 1 trains the head on features the
frozen base computed once (cached on disk) and serves base + head. With
fine-tuning, stage 2 trains the same model with the top of its base unfrozen
at a lower learning rate, starting from stage 1's weights, in
<model_dir>/fine_tune.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable
from typing import TextIO

import numpy as np
import tensorflow as tf

from common.errors import UsageError
from common.params import TRAIN, DataParams, ModelParams, TrainingParams
from common.progress import ProgressLine
from estimators.engines import Inputs, Job
from estimators.models.registry import ModelEntry
from estimators.models.spec import ModelSpec
from estimators.stages import bottleneck
from estimators.stages.finetune import FineTune, stage2_spec, unfreeze
from estimators.training.optimizers import OptimizerSpec
from input_fns import pipeline_ops

FINE_TUNE_DIR = "fine_tune"
FULL_WEIGHTS = "full_model.weights.h5"  # base + head after a bottleneck stage: where stage 2 starts

Builder = Callable[[ModelSpec], tf.keras.Model]


def fine_tune_rule(model: ModelParams, entry: ModelEntry) -> FineTune | None:
    if model.fine_tune_steps <= 0:
        return None
    if not entry.pretrained_base:
        raise UsageError("fine_tune_steps", f"'{model.name}' has no pretrained base to fine-tune")
    return FineTune(model.fine_tune_steps, model.fine_tune_from, model.fine_tune_fraction, model.fine_tune_lr_factor)


def check_bottleneck(data: DataParams, model: ModelParams, training: TrainingParams, entry: ModelEntry) -> None:
    if not training.bottleneck_cache:
        return
    if not entry.pretrained_base:
        raise UsageError("bottleneck_cache", f"'{entry.name}' has no frozen base to cache features of")
    if data.augment.enabled:
        raise UsageError("bottleneck_cache", "cached features are computed once, so --augment_* cannot apply")
    if model.trainable_base:
        raise UsageError("bottleneck_cache", "needs a frozen base; drop --trainable_base")


def plan(
    job: Job, data: DataParams, model: ModelParams, training: TrainingParams, entry: ModelEntry, stream: TextIO
) -> list[Job]:
    """The jobs to run, in order; each is checked by the engine before any runs."""
    check_bottleneck(data, model, training, entry)
    rule = fine_tune_rule(model, entry)
    builder = entry.load_builder()
    first = _bottleneck_job(job, builder, data, model, training, stream) if training.bottleneck_cache else job
    if rule is None:
        return [first]
    start = os.path.join(job.model_dir, FULL_WEIGHTS) if training.bottleneck_cache else None
    return [first, _fine_tune_job(job, builder, rule, start)]


def _bottleneck_job(
    job: Job, builder: Builder, data: DataParams, model: ModelParams, training: TrainingParams, stream: TextIO
) -> Job:
    cache_dir = training.bottleneck_dir or os.path.join(job.model_dir, "bottleneck")
    # Keyed by everything the features depend on: any model or data setting that changes gives a new file.
    key = {"model": dataclasses.asdict(model), "data": dataclasses.asdict(data), "image": str(job.spec.image)}

    @functools.cache
    def features() -> tuple[dict, dict[str, np.ndarray], int]:
        # model_to_estimator invalidates Keras models built before it, so the base is built here,
        # when the engine first reads the inputs, and the served model is rebuilt in assemble.
        model = builder(job.spec)
        base_weights = _weights_by_name(model)
        extractor = bottleneck.feature_extractor(model)
        arrays = {}
        for role in job.inputs.sizes:
            path = os.path.join(cache_dir, f"{bottleneck.cache_key(**key, role=role)}.npz")
            finite = job.inputs.make(role, pipeline_ops.EVALUATE, job.batch_size)
            size = job.inputs.sizes[role]
            # A line about every tenth of the pass (and at its end), counting examples.
            line = ProgressLine(size, 1, max(job.batch_size, size // 10), stream, what=f"bottleneck {role} examples")
            x, y, seconds, hit = bottleneck.cached_features(extractor, finite, job.spec.input_name, path, line)
            verb = "read" if hit else "computed"
            print(f"bottleneck: {verb} {len(y)} {role} feature vectors in {seconds:.1f}s ({path})", file=stream)
            arrays[role] = (x, y)
        return arrays, base_weights, int(arrays[TRAIN][0].shape[-1])

    def make(role: str, mode: str, batch_size: int):
        x, y = features()[0][role]
        return bottleneck.arrays_input_fn(x, y, batch_size, mode == pipeline_ops.FIT, job.seed)

    def assemble(head_weights: dict[str, np.ndarray]) -> tf.keras.Model:
        full = builder(job.spec)
        bottleneck.move_head_weights({**features()[1], **head_weights}, full)
        full.save_weights(os.path.join(job.model_dir, FULL_WEIGHTS))
        return full

    return dataclasses.replace(
        job,
        build=lambda: bottleneck.head_model(features()[2], job.spec),
        inputs=Inputs(make, job.inputs.sizes, job.inputs.report_role),
        assemble=assemble,
    )


def _fine_tune_job(stage1: Job, builder: Builder, rule: FineTune, start_weights: str | None) -> Job:
    """Stage 2 in <model_dir>/fine_tune: the same model with the top of its base unfrozen.

    Its weights start from stage 1's checkpoint (WarmStartSettings under the
    Estimator), or from the full model a bottleneck stage 1 assembled.
    """
    spec = stage2_spec(dataclasses.replace(stage1.spec, optimizer=_steps(stage1.spec.optimizer, rule.steps)), rule)

    def build() -> tf.keras.Model:
        model = builder(spec)
        if start_weights is not None:
            model.load_weights(start_weights)
        return unfreeze(model, rule, spec)

    return dataclasses.replace(
        stage1,
        spec=spec,
        build=build,
        model_dir=os.path.join(stage1.model_dir, FINE_TUNE_DIR),
        max_steps=rule.steps,
        warm_start_from=None if start_weights is not None else stage1.model_dir,
    )


def _steps(optimizer: OptimizerSpec, steps: int) -> OptimizerSpec:
    warmup = min(optimizer.warmup_steps, steps - 1) if optimizer.schedule == "cosine" else optimizer.warmup_steps
    return dataclasses.replace(optimizer, total_steps=steps, warmup_steps=warmup)


def _weights_by_name(model: tf.keras.Model) -> dict[str, np.ndarray]:
    return {weight.name.split(":")[0]: weight.numpy() for weight in model.weights}
