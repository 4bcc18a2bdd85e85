"""The training flow: resolve data -> plan stages -> check -> gate -> run the engine -> report.

``run(hp)`` is the whole flow. Every source comes through
``input_fns.sources.make_source``; the model's registry entry says what it
reads; ``estimators.stages.plan`` turns the job into the engine's stages
(bottleneck cache, fine-tuning); the engine (estimators/engines) trains on
the train role, chooses the model on validation, exports, and predicts the
report role (test, or validation when there is no test data), which the
report and the summary name.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from typing import TextIO

from common import tasks
from common.errors import UsageError
from common.names import VALIDATION_DIR
from common.params import FEATURES, IMAGES, TEXT, Hparams
from estimators import stages
from estimators.distribute import cluster as cluster_lib
from estimators.distribute import devices
from estimators.distribute import strategy as distribution
from estimators.engines import (
    Inputs,
    Job,
    Result,
    checkpoints,
    get_engine,
    precision,
    seeding,
)
from estimators.engines.early_stopping import EarlyStopping
from estimators.models import fit, registry
from estimators.models.registry import ModelEntry
from estimators.reports import curves
from estimators.serving import Serving, tflite_export
from estimators.tasks import load as load_task
from estimators.tasks.base import ReportData
from input_fns import pipeline_ops, sources
from pipeline import filesystem, vertex_export
from pipeline.summary import RunSummary

REPORT_DIR = "report"
# Where --overwrite_model_dir sets the previous run's verdicts while the gate decides.
PREVIOUS_VALIDATION_DIR = ".kestrel-previous-validation"
__all__ = ["RunSummary", "run"]


def run(hp: Hparams, stream: TextIO = sys.stdout) -> RunSummary:
    """Train, evaluate and export one model as ``hp`` says; returns the summary."""
    # Logical CPU devices must exist before TensorFlow initialises its devices.
    devices.configure_logical_cpus(hp.distribution.logical_cpu_devices)
    cluster = cluster_lib.read_cluster()
    cluster_lib.require_cluster(hp.distribution.strategy, cluster)
    # Before any op too: a multi-worker strategy configures collective ops, which only start-up allows.
    strategy = distribution.get_strategy(hp.training.engine, hp.distribution, cluster)
    if hp.output.overwrite_model_dir and cluster is not None:
        raise UsageError("overwrite_model_dir", "not allowed in a cluster: a task would delete what others wrote")
    if hp.output.overwrite_model_dir:
        filesystem.check_overwritable(hp.output.model_dir)
    entry = registry.get(hp.model.name)
    registry.check_task(entry, hp.data.task)
    engine = get_engine(load_task(hp.data.task).engine_name(hp.training.engine))
    source = sources.make_source(hp.data, seed=hp.training.seed)
    policy = precision.set_mixed_precision(hp.training.mixed_precision, on_tpu=hp.distribution.strategy == "tpu")
    seeding.set_seeds(hp.training.seed, hp.distribution.deterministic_ops)
    job = _job(hp, entry, source, strategy, cluster, stream)
    jobs = stages.plan(job, hp.data, hp.model, hp.training, entry, stream)
    for stage in jobs:
        engine.check(stage)
    tflite_export.check(job, hp.output)
    gate = _gate(hp, source.meta, stream) if hp.gate.validate else "off (--novalidate_data)"
    _prepare_model_dir(hp)

    for number, stage in enumerate(jobs, start=1):
        if number > 1:
            print(f"stage {number}: fine-tuning for {stage.max_steps} steps", file=stream, flush=True)
        result = engine.run(stage)
        if result.task:
            break
    summary = RunSummary(result, engine.name, hp.output.model_dir, source.meta.split_names, job.inputs.report_role)
    tflite = tflite_export.export_run(hp.output, entry, jobs[-1], result.export_path, stream)
    extra = entry.write_extra_export(result.export_path) if result.export_path else None
    if extra:
        print(f"{entry.extra_export[0]} export: {extra}", file=stream, flush=True)
    summary = dataclasses.replace(summary, stages=len(jobs), metric=job.task.metric, tflite=tflite)
    summary = dataclasses.replace(summary, gate=gate, **_what_ran(hp, source.meta, strategy, policy))
    if hp.training.report and not result.task:
        summary = dataclasses.replace(summary, report_dir=_write_report(hp, jobs, result, source, summary, stream))
    vertex_export.publish(summary.export_path, hp.output.publish_dir, stream)
    vertex_export.publish_events(hp.output.model_dir, hp.output.tensorboard_publish_dir, result.task, stream)
    return summary


def _gate(hp: Hparams, meta: sources.SourceMeta, stream: TextIO) -> str:
    from pipeline import data_gate

    out = hp.output
    filesystem.claim_model_dir(out.model_dir)
    if out.overwrite_model_dir:
        # Validate afresh, but set the old verdicts aside rather than delete them: the gate may still refuse.
        aside = os.path.join(out.model_dir, PREVIOUS_VALIDATION_DIR)
        filesystem.remove(aside)
        filesystem.move(os.path.join(out.model_dir, VALIDATION_DIR), aside)
    return data_gate.check(hp.data, hp.gate, out.model_dir, meta, stream)


def _prepare_model_dir(hp: Hparams) -> None:
    """After every check has passed: start afresh if asked, make sure it is writable, set aside a torn checkpoint."""
    out = hp.output
    if out.overwrite_model_dir:
        filesystem.clear_model_dir(out.model_dir, keep=VALIDATION_DIR if hp.gate.validate else None)
    filesystem.claim_model_dir(out.model_dir, ours=out.overwrite_model_dir)
    checkpoints.resume_point(out.model_dir)


def _what_ran(hp: Hparams, meta: sources.SourceMeta, strategy, policy: str) -> dict:
    """The summary's data, strategy and precision: what the run really used, not what was asked."""
    replicas = distribution.num_replicas(strategy)
    kind = type(strategy).__name__ if strategy is not None else "no tf.distribute strategy"
    precision = policy + (" (--mixed_precision)" if hp.training.mixed_precision else "")
    return {
        "data": f"{hp.data.source} {meta.name}",
        "synthetic": hp.data.synthetic,
        "strategy": f"{hp.distribution.strategy}: {kind}, {replicas} replica{'s' if replicas != 1 else ''} in sync",
        "precision": precision,
    }


def _job(hp: Hparams, entry: ModelEntry, source: sources.Source, strategy, cluster, stream: TextIO) -> Job:
    meta, t = source.meta, hp.training
    image = fit.image_spec_for(hp.data, hp.model, entry, meta)
    spec = fit.model_spec_for(hp.model, hp.training, hp.data.task, entry, meta, image)
    replicas = distribution.num_replicas(strategy)
    if hp.distribution.scale_learning_rate and replicas > 1:
        spec = dataclasses.replace(
            spec, learning_rate=distribution.scaled_learning_rate(spec.learning_rate, replicas, True)
        )
    flatten = entry.inputs == FEATURES and meta.kind == IMAGES

    def make(role: str, mode: str, batch_size: int):
        return source.input_fn(role, mode, batch_size, spec.input_name, image, flatten=flatten)

    builder = None if entry.canned else entry.load_builder()
    return Job(
        assemble=_keras_assembly(builder, spec) if builder and load_task(spec.task).keras_export else None,
        model_name=entry.name,
        spec=spec,
        build=None if builder is None else (lambda: builder(spec)),
        inputs=Inputs(make, meta.split_sizes, meta.report_role),
        model_dir=hp.output.model_dir,
        max_steps=t.train_steps,
        batch_size=t.batch_size,
        distribution=hp.distribution,
        checkpoints=hp.output.checkpoints,
        strategy=strategy,
        eval_steps=t.eval_steps,
        eval_throttle_secs=t.eval_throttle_secs,
        progress_every_steps=t.progress_every_steps,
        seed=t.seed,
        warm_start_from=t.warm_start_from,
        early_stopping=_early_stopping(t, spec.task),
        serving=Serving(
            meta.class_names,
            spec.input_name,
            spec.image,
            spec.features,
            spec.task,
            meta.scaling,
            meta.series,
            text_input=spec.input_name if meta.kind == TEXT else None,
        ),
        stream=stream,
        cluster=cluster,
    )


def _keras_assembly(builder, spec):
    """The trained weights (by checkpoint name) in a fresh Keras model: what a task with its own export serves."""

    def assemble(weights: dict) -> object:
        model = builder(spec)
        for weight in model.weights:
            weight.assign(weights[weight.name.split(":")[0]])
        return model

    return assemble


def _early_stopping(t, task_name: str) -> EarlyStopping | None:
    if not t.early_stopping_steps:
        return None
    task = tasks.get(task_name)
    rule = EarlyStopping(t.early_stopping_metric or task.metric, t.early_stopping_steps)
    rule.check_task(task)
    return rule


def _write_report(hp: Hparams, jobs: list[Job], result: Result, source, summary: RunSummary, stream: TextIO) -> str:
    """<model_dir>/report: the evaluation (json, its PNG), the learning curves of every stage, a page."""
    job = jobs[-1]
    role = job.inputs.report_role
    label = _role_label(role, summary.splits[role]) + (", SYNTHETIC random data" if summary.synthetic else "")
    evaluation, write, pages = _evaluate(job, result, source.meta, role, label)
    print(evaluation.format(), file=stream, flush=True)
    out = os.path.join(hp.output.model_dir, REPORT_DIR)
    write(out)
    curves.write_curves(
        [stage.model_dir for stage in jobs],
        out,
        title=f"{hp.model.name}: {hp.output.model_dir}",
        metrics=tuple(dict.fromkeys(("loss", job.task.metric))),  # once, for a task chosen on its loss
    )
    pages.write_html(evaluation, out, title=f"{hp.model.name} on {source.meta.name}")
    return out


def _evaluate(job: Job, result: Result, meta: sources.SourceMeta, role: str, split: str):
    """The task's evaluation of the report role (its plug-in's), the call that writes it into a folder, and its
    page module."""
    read = lambda r: job.inputs.make(r, pipeline_ops.EVALUATE, job.batch_size)  # noqa: E731
    data = ReportData(
        result.predictions, role, split, read, meta.class_names, meta.series, job.spec.input_name, result.export_path
    )
    evaluation = load_task(job.task).evaluate(data)
    result.report_metrics.update(evaluation.report_metrics)
    return evaluation.report, evaluation.write, evaluation.page


def _role_label(role: str, split: str) -> str:
    return role if split == role else f"{role}: {split}"
