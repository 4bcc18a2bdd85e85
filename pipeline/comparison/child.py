"""One backbone's run in its own process: ``python -m pipeline.comparison.child '<job json>'``.

The run goes through the training flow (``pipeline.train.run``: the bottleneck stage, the
engine, the export, the report), its lines passed through to the comparison; a process per
run gives each its own peak memory and keeps a crash to one backbone. The figures come back
as one ``comparison-result: {json}`` line on stdout.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import sys

from common.errors import KestrelError
from common.params import TEST, TRAIN, Hparams
from pipeline.comparison.config import record_from_dict
from pipeline.comparison.results import FAILED, OK, RunFigures

RESULT_PREFIX = "comparison-result: "
# The bottleneck stage's line per role (estimators/stages/__init__.py); the figure the comparison needs.
_EXTRACTED = re.compile(r"^bottleneck: (computed|read) (\d+) \w+ feature vectors in ([\d.]+)s")


def job(hp: Hparams) -> str:
    """The child's argument for a run of ``hp``."""
    return json.dumps({"hparams": dataclasses.asdict(hp)})


class _Recorder(io.TextIOBase):
    """The flow's stream: every line to stdout (the comparison echoes it) and kept for the figures."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._partial = ""

    def write(self, text: str) -> int:
        sys.stdout.write(text)
        self._partial += text
        *done, self._partial = self._partial.split("\n")
        self.lines.extend(done)
        return len(text)

    def flush(self) -> None:
        sys.stdout.flush()


def run(hp: Hparams) -> RunFigures:
    from input_fns import sources
    from pipeline import train

    stream = _Recorder()
    summary = train.run(hp, stream)
    result = summary.result
    seconds, examples = extraction(stream.lines)
    meta = sources.make_source(hp.data, seed=hp.training.seed).meta
    total, trainable, preprocessing = model_facts(hp, meta)
    rate = result.examples_per_sec
    return RunFigures(
        status=OK,
        params_total=total,
        params_trainable=trainable,
        validation_accuracy=round(float(result.metrics["accuracy"]), 4),
        test_accuracy=round(float(result.report_metrics["accuracy"]), 4) if summary.report_role == TEST else None,
        preprocessing=preprocessing,
        extraction_seconds=seconds,
        extraction_examples=examples,
        epoch_seconds=round(meta.split_sizes[TRAIN] / rate, 4) if rate else None,
        train_seconds=round(float(result.train_seconds), 2),
        model_dir=hp.output.model_dir,
    )


def extraction(lines: list[str]) -> tuple[float | None, int | None]:
    """(seconds, examples) the frozen base took over every role, from the bottleneck stage's lines."""
    found = [m for m in map(_EXTRACTED.match, lines) if m and m.group(1) == "computed"]
    if not found:
        return None, None
    return round(sum(float(m.group(3)) for m in found), 1), sum(int(m.group(2)) for m in found)


def model_facts(hp: Hparams, meta) -> tuple[int, int, str]:
    """(total, trainable) parameters of the served model as this run trained it (the head, or with the top
    of the base), and the preprocessing of its input."""
    from estimators import stages
    from estimators.models import fit, registry
    from estimators.stages.finetune import unfreeze

    entry = registry.get(hp.model.name)
    image = fit.image_spec_for(hp.data, hp.model, entry, meta)
    # The counts do not depend on the weights' values: no second read of an ImageNet file.
    spec = dataclasses.replace(
        fit.model_spec_for(hp.model, hp.training, hp.data.task, entry, meta, image), weights="none"
    )
    model = entry.load_builder()(spec)
    rule = stages.fine_tune_rule(hp.model, entry)
    if rule is not None:
        model = unfreeze(model, rule, spec)
    trainable = sum(int(w.shape.num_elements()) for w in model.trainable_weights)
    return int(model.count_params()), trainable, image.preprocessing


def _quiet() -> None:
    """The log levels scripts/cli.py sets for a command: the flow's progress lines, not TF's deprecation chatter."""
    import logging
    import warnings

    from absl import logging as absl_logging

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    absl_logging.set_verbosity(absl_logging.WARNING)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"keras\.")
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\.")


def main(argv: list[str]) -> None:
    _quiet()
    hp = record_from_dict(Hparams, json.loads(argv[1])["hparams"])
    try:
        figures = run(hp)
    except KestrelError as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        print(RESULT_PREFIX + json.dumps(dataclasses.asdict(RunFigures(FAILED, str(err)))), flush=True)
        sys.exit(err.exit_code)
    print(RESULT_PREFIX + json.dumps(dataclasses.asdict(figures)), flush=True)


if __name__ == "__main__":
    main(sys.argv)
