"""One retraining run: pick spans -> validate -> train -> evaluate -> bless -> push, recorded in the registry.

Each step is a plain function; ``run_once`` strings them together under the
lock and keeps the registry row of the run up to date, so a run killed at any
point leaves a row that says how far it got, and the next invocation resumes
it (same run id, same model_dir: the Estimator restarts from its last
checkpoint).
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import os
import subprocess
import sys
import time
from typing import TextIO

from common.errors import KestrelError, UsageError
from common.params import Hparams
from common.progress import format_duration
from pipeline.retraining import blessing, evaluate, exits, registry, spans
from pipeline.retraining.config import RetrainConfig
from pipeline.retraining.lock import RetrainLock
from pipeline.retraining.push import ServingDir

# Exit statuses of a run, for cron and schedulers: the one table in pipeline/retraining/exits.py.
OK = exits.OK
FAILED_EXIT = exits.FAILED
VALIDATION_EXIT = exits.REFUSED_DATA
NOT_BLESSED_EXIT = exits.NOT_BLESSED

# The training flags the run's image folders arrive under -> the retraining flags the user set.
_RETRAIN_FLAGS = {"test_dir": "holdout", "image_dir": "spans"}

SKIPPED = "skipped"
NO_SPANS = "no_spans"


@dataclasses.dataclass(frozen=True)
class Outcome:
    status: str
    exit_code: int
    line: str  # the one-line summary, for cron mail
    run_id: int | None = None
    version: int | None = None


@dataclasses.dataclass(frozen=True)
class Plan:
    """What this invocation will do: which spans, which run row, which model_dir, warm or cold."""

    window: list[spans.Span]
    previous: spans.Span | None
    fingerprint: str
    run_id: int
    model_dir: str
    resumed: bool
    baseline: registry.Run | None  # the blessed run behind the served version


@dataclasses.dataclass(frozen=True)
class Validation:
    clean: bool
    summary: str


# -- the steps ----------------------------------------------------------------


def code_version() -> str | None:
    """kestrel's git commit, ``+dirty`` when tracked files differ from it; None outside a checkout."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
        if commit.returncode:
            return None
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD"], cwd=root, capture_output=True, timeout=10)
        return commit.stdout.strip() + ("+dirty" if dirty.returncode else "")
    except (OSError, subprocess.SubprocessError):
        return None


def schema_key(config: RetrainConfig, window: list[spans.Span]) -> str:
    """What a checkpoint's variables depend on: the model and the data's classes and image shape.

    Two runs with the same key can warm-start one from the other; a new class,
    another image size or another model means training from scratch.
    """
    hp = config.hparams
    key = {
        "model": hp.model.name,
        "image_size": hp.data.image_size,
        "classes": evaluate.class_names([span.path for span in window]),
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def plan(config: RetrainConfig, reg: registry.Registry, stream: TextIO) -> Plan | Outcome:
    """Find the spans to train on; skip them if already decided; resume an interrupted run over them."""
    found = spans.discover(config.spans)
    if not found:
        return Outcome(NO_SPANS, OK, f"{_name(config)}: no spans in {config.spans}; nothing to do")
    window = spans.select(found, config.span_window)
    fingerprint = spans.spans_fingerprint(window)
    newest = window[-1].name
    done = reg.decided(config.model_name, fingerprint)
    if done and not config.force:
        version = f" (version {done.pushed_version})" if done.pushed_version else ""
        return Outcome(
            SKIPPED,
            OK,
            f"{_name(config)}: span {newest} already trained by run {done.id}: {done.status}{version}; "
            "skipped (--force retrains)",
            run_id=done.id,
        )
    refused = check_holdout(config, window)
    if refused:
        return refuse(config, reg, window, fingerprint, refused)
    served = ServingDir(config.serving_dir, config.model_name).served()
    baseline = reg.pushed(config.model_name, served) if served is not None else None
    unfinished = reg.unfinished(config.model_name, fingerprint)
    if unfinished and not config.force:
        reg.resume(unfinished.id)
        step = checkpoint_step(unfinished.model_dir)
        where = f"from checkpoint step {step}" if step is not None else "from the start (no checkpoint yet)"
        print(
            f"resuming run {unfinished.id} (span {newest}, attempt {unfinished.attempts + 1}) "
            f"from {unfinished.model_dir}, {where}",
            file=stream,
            flush=True,
        )
        return Plan(
            window, spans.previous(found, window[0]), fingerprint, unfinished.id, unfinished.model_dir, True, baseline
        )
    # Under the lock a RUNNING row has no live process: one over other data (or --force) is not resumed.
    reg.supersede_unfinished(config.model_name)
    run_id = _record_attempt(config, reg, window, fingerprint)
    model_dir = os.path.join(config.runs_dir, f"run-{run_id:05d}")
    reg.update(run_id, model_dir=model_dir)
    return Plan(window, spans.previous(found, window[0]), fingerprint, run_id, model_dir, False, baseline)


def _record_attempt(config: RetrainConfig, reg: registry.Registry, window: list[spans.Span], fingerprint: str) -> int:
    """A registry row for one attempt on ``window`` (RUNNING until its outcome is written); returns its id."""
    return reg.start(
        model=config.model_name,
        spans=[span.name for span in window],
        fingerprint=fingerprint,
        schema_key=schema_key(config, window),
        code_version=code_version(),
        flags=config.record(),
        model_dir="",
    )


def check_holdout(config: RetrainConfig, window: list[spans.Span]) -> str | None:
    """The holdout is an image folder of the spans' classes: checked before the gate and training,
    and named as the user passed it (training reads it as the test role, ``test_dir``).

    Returns why the data is refused when the spans lack a class of the holdout (a span that arrived
    incomplete: a data outcome, recorded), or None. A class the holdout lacks is the holdout's fault
    (it cannot measure that class): a usage error.
    """
    evaluate.image_folder_files([config.holdout], flag="holdout")
    have = evaluate.class_names([config.holdout])
    want = evaluate.class_names([span.path for span in window])
    if set(want) - set(have):
        raise UsageError(
            "holdout", f"'{config.holdout}' has classes {list(have)}; the spans being trained have {list(want)}"
        )
    missing = sorted(set(have) - set(want))
    if missing:
        spans_named = ", ".join(span.name for span in window)
        return f"span {spans_named} has no class {missing} of the holdout (it has {list(want)})"
    return None


def refuse(
    config: RetrainConfig, reg: registry.Registry, window: list[spans.Span], fingerprint: str, why: str
) -> Outcome:
    """Record a span refused before the gate (a class missing) as the gate's refusals are: decided, exit 4."""
    run_id = _record_attempt(config, reg, window, fingerprint)
    reg.update(run_id, status=registry.VALIDATION_FAILED, validation=why)
    line = (
        f"{_name(config)} run {run_id}: span {window[-1].name} STOPPED by validation: {why}; served version unchanged"
    )
    return Outcome(registry.VALIDATION_FAILED, exits.REFUSED_DATA, line, run_id)


def warm_start_from(config: RetrainConfig, plan_: Plan, reg: registry.Registry) -> tuple[str | None, str]:
    """The blessed model's checkpoint dir to start from, or None (from scratch), and why."""
    if not config.warm_start:
        return None, "from scratch (--nowarm_start)"
    baseline = plan_.baseline
    if baseline is None:
        return None, "from scratch (no blessed model yet)"
    current = reg.get(plan_.run_id).schema_key
    if baseline.schema_key != current:
        return None, f"from scratch (model or data schema changed since run {baseline.id})"
    if not _has_checkpoint(baseline.model_dir):
        return None, f"from scratch (run {baseline.id}'s checkpoints are gone from {baseline.model_dir})"
    return baseline.model_dir, f"warm start from run {baseline.id} (version {baseline.pushed_version})"


def checkpoint_step(model_dir: str) -> int | None:
    """The global step of ``model_dir``'s newest checkpoint, or None when it has none."""
    import tensorflow as tf

    latest = tf.train.latest_checkpoint(model_dir) if model_dir and tf.io.gfile.isdir(model_dir) else None
    if latest is None:
        return None
    return int(latest.rsplit("-", 1)[-1])


def _has_checkpoint(model_dir: str) -> bool:
    return checkpoint_step(model_dir) is not None


def window_image_dir(window: list[spans.Span], model_dir: str) -> str:
    """One image folder to train on: the span itself, or for a window of K spans a tree of symlinks.

    ``<model_dir>/window/<class>/<span>__<file>`` keeps the run's inputs visible
    next to its checkpoints and costs no copy.
    """
    if len(window) == 1:
        return window[0].path
    root = os.path.join(model_dir, "window")
    for span in window:
        for label in evaluate.class_names([span.path]):
            folder = os.path.join(root, label)
            os.makedirs(folder, exist_ok=True)
            for name in os.listdir(os.path.join(span.path, label)):
                link = os.path.join(folder, f"{span.name}__{name}")
                if not os.path.lexists(link):
                    os.symlink(os.path.abspath(os.path.join(span.path, label, name)), link)
    return root


def gate_span_number(span: spans.Span) -> int:
    """The gate numbers spans: a numbered span keeps its number, a dated one becomes YYYYMMDD."""
    kind, value = span.key
    if kind == 0:
        return value
    return int(datetime.date.fromordinal(value).strftime("%Y%m%d"))


def validate(config: RetrainConfig, plan_: Plan) -> Validation:
    """The data-validation gate on the newest span, drift measured against the last accepted span.

    Older spans of a rolling window were validated by the runs that first saw them.
    """
    from pipeline.validation import gate
    from pipeline.validation.config import RunnerOptions, ValidationConfig

    newest = plan_.window[-1]
    result = gate.run_gate(
        ValidationConfig(
            data=(newest.path,),
            artifacts_dir=config.validation_dir,
            span=gate_span_number(newest),
            allow_anomalies=config.allow_anomalies,
            max_bad_record_fraction=config.hparams.data.max_bad_record_fraction,
            runner=RunnerOptions(direct_running_mode=config.validation_running_mode),
        )
    )
    headline = result.summary.splitlines()[0]
    where = result.paths.get("report_html", "")
    return Validation(result.passed, f"{headline}; report {where}" if not result.clean else headline)


def training_hparams(config: RetrainConfig, plan_: Plan, warm_start: str | None) -> Hparams:
    """The run's Hparams: the config's model and training sections, the window as an image folder
    (its validation carved off it: the holdout never chooses the model it then blesses), the fixed
    holdout as the test role, the run's own model_dir, and the warm start."""
    hp = config.hparams
    data = dataclasses.replace(
        hp.data,
        source="image_folder",
        image_dir=window_image_dir(plan_.window, plan_.model_dir),
        val_dir=None,
        test_dir=config.holdout,
    )
    training = dataclasses.replace(hp.training, warm_start_from=warm_start)
    output = dataclasses.replace(hp.output, model_dir=plan_.model_dir, overwrite_model_dir=False, publish_dir=None)
    return hp.replace(data=data, training=training, output=output)


def train(config: RetrainConfig, plan_: Plan, warm_start: str | None, stream: TextIO):
    """pipeline.train.run over the window into the run's model_dir; returns its RunSummary."""
    from pipeline import train as train_flow

    try:
        return train_flow.run(training_hparams(config, plan_, warm_start), stream=stream)
    except UsageError as err:
        # Training names the image-folder flags it was given; the user passed --holdout and --spans.
        flag = _RETRAIN_FLAGS.get(err.flag)
        if flag is None:
            raise
        raise UsageError(flag, str(err).removeprefix(f"--{err.flag}: ")) from None


def run_flags(config: RetrainConfig, plan_: Plan, warm_start: str | None) -> dict:
    """The registry's ``flags``: the retraining config, with the Hparams the run really trained with."""
    return {**config.record(), "hparams": dataclasses.asdict(training_hparams(config, plan_, warm_start))}


def evaluate_candidate(
    config: RetrainConfig, plan_: Plan, export_dir: str, baseline_export: str | None
) -> dict[str, dict[str, float]]:
    """Holdout and new-span metrics of the candidate, and the served model's holdout metrics now."""
    holdout = evaluate.image_folder_files([config.holdout], flag="holdout")
    span_data = evaluate.image_folder_files([plan_.window[-1].path])
    metrics = {
        "holdout": evaluate.evaluate_saved_model(export_dir, holdout),
        "span": evaluate.evaluate_saved_model(export_dir, span_data),
    }
    if baseline_export:
        metrics["baseline_holdout"] = evaluate.evaluate_saved_model(baseline_export, holdout)
    return metrics


def bless(config: RetrainConfig, metrics: dict, baseline: registry.Run | None) -> blessing.Blessing:
    name = config.blessing.metric
    candidate = metrics["holdout"].get(name)
    reference = metrics.get("baseline_holdout", {}).get(name)
    who = f"served version {baseline.pushed_version}" if baseline else "the blessed model"
    return blessing.decide(config.blessing, candidate, reference, who)


def push(config: RetrainConfig, reg: registry.Registry, run_id: int, export_dir: str) -> int:
    serving = ServingDir(config.serving_dir, config.model_name)
    version = serving.next_version(at_least=reg.max_version(config.model_name))
    path, pruned = serving.push(export_dir, version, config.keep_versions)
    reg.record_serving(config.model_name, "push", version, run_id, path)
    for old in pruned:
        reg.record_serving(config.model_name, "prune", old, None, f"keep {config.keep_versions}")
    return version


# -- the run ------------------------------------------------------------------


def run_once(config: RetrainConfig, stream: TextIO = sys.stdout) -> Outcome:
    """One scheduled invocation: under the lock, plan and run (or skip) one retraining."""
    with RetrainLock(config.work_dir), registry.Registry(config.work_dir) as reg:
        planned = plan(config, reg, stream)
        if isinstance(planned, Outcome):
            return planned
        try:
            return _run(config, reg, planned, stream)
        except KestrelError as err:
            reg.update(planned.run_id, status=registry.FAILED, error=str(err))
            raise
        except Exception as err:
            # Recorded as failed; the next invocation resumes it from its checkpoint.
            reg.update(planned.run_id, status=registry.FAILED, error=f"{type(err).__name__}: {err}"[:500])
            raise


def _run(config: RetrainConfig, reg: registry.Registry, plan_: Plan, stream: TextIO) -> Outcome:
    # A resumed run adds this attempt's seconds to the killed attempt's.
    timings: dict[str, float] = dict(reg.get(plan_.run_id).timings or {}) if plan_.resumed else {}
    started = time.perf_counter()
    newest = plan_.window[-1].name
    prefix = f"{_name(config)} run {plan_.run_id}: span {newest}"

    earlier = reg.get(plan_.run_id).validation if plan_.resumed else None
    if earlier:
        # The killed attempt got past the gate: the data is the same (same fingerprint), so is the verdict.
        checked = Validation(True, earlier)
    else:
        with _timed(timings, "validate"):
            checked = validate(config, plan_)
        reg.update(plan_.run_id, validation=checked.summary, timings=timings)
    if not checked.clean:
        reg.update(plan_.run_id, status=registry.VALIDATION_FAILED)
        line = f"{prefix} STOPPED by validation: {checked.summary}; served version unchanged"
        return Outcome(registry.VALIDATION_FAILED, VALIDATION_EXIT, line, plan_.run_id)

    warm, note = warm_start_from(config, plan_, reg) if not plan_.resumed else _resumed_warm(reg, plan_)
    reg.update(plan_.run_id, warm_start_from=warm, warm_start_note=note, flags=run_flags(config, plan_, warm))
    print(f"run {plan_.run_id}: training on {', '.join(s.name for s in plan_.window)}; {note}", file=stream, flush=True)
    with _timed(timings, "train"):
        summary = train(config, plan_, warm, stream)
    reg.update(plan_.run_id, global_step=summary.global_step, export_path=summary.export_path, timings=timings)

    baseline = plan_.baseline
    baseline_export = (
        ServingDir(config.serving_dir, config.model_name).path(baseline.pushed_version) if baseline else None
    )
    with _timed(timings, "evaluate"):
        metrics = evaluate_candidate(config, plan_, summary.export_path, baseline_export)
    with _timed(timings, "bless"):
        decision = bless(config, metrics, baseline)
    reg.update(
        plan_.run_id,
        metrics=metrics,
        blessed=int(decision.blessed),
        blessing_reason=decision.reason,
        baseline_run=baseline.id if baseline else None,
        timings=timings,
    )
    name = config.blessing.metric
    figures = f"holdout {name} {metrics['holdout'][name]:.4f}, span {name} {metrics['span'][name]:.4f}"
    if not decision.blessed:
        reg.update(plan_.run_id, status=registry.NOT_BLESSED, timings=timings)
        line = (
            f"{prefix} NOT BLESSED ({decision.reason}); kept in {plan_.model_dir}, not pushed; "
            f"served version unchanged; {_took(started)}"
        )
        return Outcome(registry.NOT_BLESSED, NOT_BLESSED_EXIT, line, plan_.run_id)

    with _timed(timings, "push"):
        version = push(config, reg, plan_.run_id, summary.export_path)
    reg.update(plan_.run_id, status=registry.PUSHED, pushed_version=version, timings=timings)
    line = f"{prefix} PUSHED version {version} ({figures}; step {summary.global_step}; {note}); {_took(started)}"
    return Outcome(registry.PUSHED, OK, line, plan_.run_id, version)


def _resumed_warm(reg: registry.Registry, plan_: Plan) -> tuple[str | None, str]:
    # The model_dir has a checkpoint now (or will restart cleanly): keep the first attempt's choice.
    run = reg.get(plan_.run_id)
    note = run.warm_start_note or "from scratch"
    return run.warm_start_from, f"resumed from its last checkpoint; {note}"


class _timed:
    def __init__(self, timings: dict[str, float], step: str):
        self.timings, self.step = timings, step

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, *exc) -> None:
        spent = time.perf_counter() - self.started
        self.timings[self.step] = round(self.timings.get(self.step, 0.0) + spent, 2)


def _took(started: float) -> str:
    return format_duration(time.perf_counter() - started)


def _name(config: RetrainConfig) -> str:
    return f"retrain {config.model_name}"
