"""The comparison: every check first, then a child process per backbone, then the best N fine-tuned.

Nothing is written until every backbone has passed the run flow's own checks (the size rule of
``estimators.models.fit``, the bottleneck and fine-tuning rules of ``estimators.stages``) on
the data's real shape; a backbone chosen by ``all`` that the image size does not fit is skipped
and named in the table instead, one named on the command line is refused.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from collections.abc import Callable

from common.errors import UsageError
from common.params import TRAIN, CheckpointPolicy, Hparams, OutputParams
from common.progress import run_counter
from pipeline.comparison import outputs
from pipeline.comparison.child import RESULT_PREFIX, job
from pipeline.comparison.config import ComparisonConfig
from pipeline.comparison.results import FAILED, SKIPPED, BackboneResult, ResultsFile, RunFigures


@dataclasses.dataclass(frozen=True)
class Plan:
    """What the checks found: the head's steps, the backbones to run, those skipped and why."""

    steps: int
    train_examples: int
    num_classes: int
    backbones: tuple[str, ...]
    skipped: dict[str, str]


def head_hparams(cfg: ComparisonConfig, backbone: str, steps: int) -> Hparams:
    """A head on the frozen base, trained on its cached features, in <out_dir>/runs/<backbone>."""
    hp = cfg.hparams
    return hp.replace(
        model=dataclasses.replace(hp.model, name=backbone, fine_tune_steps=0),
        training=dataclasses.replace(hp.training, bottleneck_cache=True, train_steps=steps),
        output=_output(cfg.run_dir(backbone), hp.training.progress_every_steps),
    )


def fine_tune_hparams(cfg: ComparisonConfig, backbone: str, steps: int) -> Hparams:
    """The head again (features cached afresh), then the top of the base, in <out_dir>/fine_tune/<backbone>."""
    hp = head_hparams(cfg, backbone, steps)
    return hp.replace(
        model=dataclasses.replace(hp.model, fine_tune_steps=cfg.hparams.model.fine_tune_steps),
        output=_output(cfg.run_dir(backbone, fine_tune=True), hp.training.progress_every_steps),
    )


def _output(model_dir: str, every: int) -> OutputParams:
    return OutputParams(model_dir=model_dir, checkpoints=CheckpointPolicy(log_step_count_steps=every))


def check(cfg: ComparisonConfig) -> Plan:
    """Every rule the runs would refuse, checked on the data's meta before anything is written."""
    from estimators import stages
    from estimators.models import fit, registry
    from input_fns import sources

    meta = sources.make_source(cfg.hparams.data, seed=cfg.hparams.training.seed).meta
    train_examples = meta.split_sizes[TRAIN]
    batch = cfg.hparams.training.batch_size
    steps = math.ceil(cfg.epochs * train_examples / batch) if cfg.epochs else cfg.hparams.training.train_steps
    skipped: dict[str, str] = {}
    for backbone in cfg.backbones:
        entry = registry.get(backbone)
        hp = head_hparams(cfg, backbone, steps)
        try:
            fit.image_spec_for(hp.data, hp.model, entry, meta)
        except UsageError as err:
            if not cfg.chose_all:
                raise
            skipped[backbone] = str(err).removeprefix("--image_size: ")
            continue
        stages.check_bottleneck(hp.data, hp.model, hp.training, entry)
        if cfg.fine_tune_top:
            stages.fine_tune_rule(fine_tune_hparams(cfg, backbone, steps).model, entry)
    chosen = tuple(b for b in cfg.backbones if b not in skipped)
    if not chosen:
        raise UsageError("image_size", f"fits none of the backbones: {'; '.join(skipped.values())}")
    return Plan(steps, train_examples, meta.num_classes, chosen, skipped)


def compare(cfg: ComparisonConfig, say: Callable[[str], None] = print) -> outputs.Written:
    """Run every unfinished head, then fine-tune the best --fine_tune_top; write the ranked outputs."""
    fine_tune = cfg.fine_tune_settings() if cfg.fine_tune_top else None
    results = ResultsFile(cfg.out_dir, cfg.fingerprint(), fine_tune).load()  # before TensorFlow loads
    plan = check(cfg)
    from pipeline.filesystem import ensure_writable_dir

    ensure_writable_dir(cfg.out_dir, "out_dir")
    if results.stale_fine_tunes:
        say(
            f"fine-tuned with other settings before, redone if still among the best: {', '.join(results.stale_fine_tunes)}"
        )
    done = [b for b in plan.backbones if results.finished(b)]
    if done:
        say(f"finished in an earlier run, skipped: {', '.join(done)}")
    for backbone, reason in plan.skipped.items():
        results.record(BackboneResult(backbone, RunFigures(SKIPPED, reason)))
    todo = [b for b in plan.backbones if b not in done]
    say(f"heads to train: {len(todo)} ({plan.steps} steps each, batch {cfg.hparams.training.batch_size})")
    counter = run_counter(len(todo), say, what="backbones", unit="backbones")
    for number, backbone in enumerate(todo, 1):
        say(f"backbone {number}/{len(todo)}: {backbone}")
        head = run_one(head_hparams(cfg, backbone, plan.steps), say)
        results.record(BackboneResult(backbone, head))
        counter.update(number, f"{backbone} {_verdict(head)}")
    _fine_tune_best(cfg, plan, results, say)
    return outputs.write(results.results, cfg.out_dir, plan.num_classes, say)


def _fine_tune_best(cfg: ComparisonConfig, plan: Plan, results: ResultsFile, say: Callable[[str], None]) -> None:
    best = outputs.ranked([r for r in results.results.values() if r.backbone in plan.backbones])
    best = [r for r in best if r.head.finished][: cfg.fine_tune_top]
    todo = [r for r in best if r.fine_tune is None or not r.fine_tune.finished]
    if len(todo) < len(best):
        say(f"fine-tuned in an earlier run, skipped: {', '.join(r.backbone for r in best if r not in todo)}")
    if not todo:
        return
    counter = run_counter(len(todo), say, what="fine-tuning", unit="backbones")
    for number, result in enumerate(todo, 1):
        say(f"fine-tuning {number}/{len(todo)}: {result.backbone} ({cfg.hparams.model.fine_tune_steps} steps)")
        tuned = run_one(fine_tune_hparams(cfg, result.backbone, plan.steps), say)
        results.record(dataclasses.replace(result, fine_tune=tuned))
        counter.update(number, f"{result.backbone} {_verdict(tuned)}")


def run_one(hp: Hparams, say: Callable[[str], None]) -> RunFigures:
    """``hp``'s run in a child process, started afresh: its figures, peak memory and wall time."""
    from common import processes

    # An unfinished earlier attempt's checkpoints and feature cache would make its figures a resume's.
    shutil.rmtree(hp.output.model_dir, ignore_errors=True)
    name = hp.model.name
    measured = processes.run_measured(
        processes.python_module("pipeline.comparison.child", job(hp)),
        echo=lambda line: None if line.startswith(RESULT_PREFIX) else say(f"  {name}: {line}"),
    )
    found = measured.first_line(lambda line: line.startswith(RESULT_PREFIX))
    if found is not None:
        figures = RunFigures(**json.loads(found[1][len(RESULT_PREFIX) :]))
    else:  # a crash (a traceback, a kill): the end of its output says why
        last = next((line for _, line in reversed(measured.lines) if line.strip()), "no output")
        figures = RunFigures(FAILED, f"exit status {measured.returncode}: {last.strip()[:300]}")
    return dataclasses.replace(
        figures, peak_rss_mb=round(measured.peak_rss_mb, 1), wall_seconds=round(measured.seconds, 1)
    )


def _verdict(figures: RunFigures) -> str:
    if not figures.finished:
        return f"failed ({figures.reason[:120]})"
    return f"validation accuracy {figures.validation_accuracy:.4f}"
