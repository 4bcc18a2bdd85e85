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
from common.params import Hparams
from pipeline.validation import gate, readers
from pipeline.validation.config import RunnerOptions, ValidationConfig

VALIDATION_DIR = "validation"


def gate_config(hp: Hparams, tfds_builder=None) -> ValidationConfig:
    """Which files the gate reads for ``hp``'s training data, and how."""
    d = hp.data
    common = dict(
        artifacts_dir=os.path.join(hp.output.model_dir, VALIDATION_DIR),
        label=d.label_key,
        allow_anomalies=hp.gate.allow_anomalies,
        runner=RunnerOptions(direct_running_mode=hp.gate.running_mode),
    )
    if d.source == "tfds":
        split = d.train_split.split("[")[0]  # TFDS slicing selects rows, the files are the split's
        return ValidationConfig(
            data=(readers.tfds_split_pattern(tfds_builder, split),), data_format="tfrecord", **common
        )
    if d.source == "image_folder":
        return ValidationConfig(data=(d.image_dir,), data_format="images", **common)
    if d.source in ("tfrecord", "csv"):
        files = tuple(p for p in (d.train_files or "").split(",") if p)
        return ValidationConfig(data=files, data_format=d.source, csv_delimiter=d.csv_separator, **common)
    raise UsageError("source", f"no validation gate for source '{d.source}'")


def check(hp: Hparams, tfds_builder=None, stream: TextIO = sys.stdout) -> gate.GateResult:
    """Run the gate; returns its result when the data may be used, raises DataRejectedError if not."""
    result = gate.run_gate(gate_config(hp, tfds_builder))
    verdict = "clean" if result.clean else "ALLOWED despite findings (--allow_anomalies)"
    print(
        f"validation: {sum(result.num_examples.values())} examples {verdict}; report {result.paths.get('report_html', '')}",
        file=stream,
        flush=True,
    )
    return gate.enforce(result)
