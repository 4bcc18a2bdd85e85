"""The main job's first step: run the data-validation gate on what training will read.

Data with anomalies, drift or unreadable records is refused (exit status 3)
before any training, unless --allow_anomalies is given; the verdict and its
reports are written to <model_dir>/validation.
"""

from __future__ import annotations

import os
import sys
from typing import TextIO

from common.errors import UsageError
from common.names import VALIDATION_DIR
from common.params import Hparams
from pipeline.validation import gate
from pipeline.validation.config import RunnerOptions, ValidationConfig


def gate_config(hp: Hparams, meta) -> ValidationConfig:
    """Which files the gate reads for the training role of ``meta`` (an input_fns.sources.SourceMeta), and how."""
    if not meta.train_files:
        raise UsageError(
            "validate_data", f"the gate reads files, and --source={hp.data.source} has none; pass --novalidate_data"
        )
    return ValidationConfig(
        data=meta.train_files,
        data_format=meta.gate_format,
        csv_delimiter=hp.data.csv_separator,
        artifacts_dir=os.path.join(hp.output.model_dir, VALIDATION_DIR),
        label=hp.data.label_key,
        allow_anomalies=hp.gate.allow_anomalies,
        max_bad_record_fraction=hp.data.max_bad_record_fraction,
        runner=RunnerOptions(direct_running_mode=hp.gate.running_mode),
    )


def check(hp: Hparams, meta, stream: TextIO = sys.stdout) -> gate.GateResult:
    """Run the gate; returns its result when the data may be used, raises DataRejectedError if not."""
    result = gate.run_gate(gate_config(hp, meta))
    print(
        f"validation: {sum(result.num_examples.values())} examples {verdict(result)}; "
        f"report {result.paths.get('report_html', '')}",
        file=stream,
        flush=True,
    )
    return gate.enforce(result)


def verdict(result: gate.GateResult) -> str:
    """What happens to the data, in words: the line printed must match the exit status that follows."""
    if result.clean:
        return "clean"
    if result.passed:
        return "ALLOWED despite findings (--allow_anomalies)"
    return "REFUSED: " + "; ".join(f"{f.kind} {f.feature}: {f.description}" for f in result.findings)
