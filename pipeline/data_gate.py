"""The main job's first step: run the data-validation gate on what training will read.

Data with anomalies, drift or unreadable records is refused (exit status 3)
before any training, unless --allow_anomalies is given; the verdict and its
reports are written to <model_dir>/validation. A verdict that let the data
through is remembered by the data's fingerprint (pipeline/gate_cache.py): on
unchanged data the gate prints it again without loading TFDV or Beam.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
from typing import TextIO

from common.errors import UsageError
from common.names import VALIDATION_DIR
from common.params import DataParams, GateParams
from pipeline import gate_cache
from pipeline.validation.config import RunnerOptions, ValidationConfig


def gate_config(data: DataParams, gate_params: GateParams, model_dir: str, meta) -> ValidationConfig:
    """Which files the gate reads for the training role of ``meta`` (an input_fns.sources.SourceMeta), and how.

    Its verdict and reports go to <model_dir>/validation.
    """
    if not meta.train_files:
        raise UsageError(
            "validate_data", f"the gate reads files, and --source={data.source} has none; pass --novalidate_data"
        )
    return ValidationConfig(
        data=meta.train_files,
        record_ranges=meta.train_ranges,
        data_format=meta.gate_format,
        csv_delimiter=data.csv_separator,
        artifacts_dir=os.path.join(model_dir, VALIDATION_DIR),
        label=data.label_key,
        allow_anomalies=gate_params.allow_anomalies,
        max_bad_record_fraction=data.max_bad_record_fraction,
        runner=RunnerOptions(direct_running_mode=gate_params.running_mode),
    )


def check(data: DataParams, gate_params: GateParams, model_dir: str, meta, stream: TextIO = sys.stdout) -> str:
    """Run the gate, or recall its verdict on unchanged data; raises DataRejectedError if the data is refused.

    Returns what it let through, in words (``718 examples of the slice train[:50%] clean``): the run summary's line.
    """
    config = gate_config(data, gate_params, model_dir, meta)
    warn = functools.partial(print, file=stream, flush=True)
    data_key = (
        gate_cache.data_fingerprint(meta.train_files, gate_params.cache_dir, warn) if gate_params.cache_dir else None
    )
    key = gate_cache.cache_key(data_key, config.artifacts_dir, _settings(config)) if data_key else None
    remembered = gate_cache.lookup(gate_params.cache_dir, key, warn) if key else None
    if remembered:
        report = gate_cache.restore(remembered, config.artifacts_dir)
        print(
            f"validation: {remembered.examples} examples{_of(meta)} {remembered.verdict} (unchanged since validated: "
            f"same file contents, schema and settings; TFDV not run); report {report}",
            file=stream,
            flush=True,
        )
        return f"{remembered.examples} examples{_of(meta)} {remembered.verdict} (recalled)"
    from pipeline.validation import gate  # TFDV and Beam load only when the gate runs (about 1.5 s)

    result = gate.run_gate(config)
    examples = sum(result.num_examples.values())
    said = verdict(result, "files" if meta.gate_format == "images" else "records")
    print(
        f"validation: {examples} examples{_of(meta)} {said}; report {result.paths.get('report_html', '')}",
        file=stream,
        flush=True,
    )
    gate.enforce(result)
    if data_key:
        gate_cache.mark_span(result.paths["span_dir"], data_key)
        try:
            gate_cache.store(gate_params.cache_dir, key, result.paths["span_dir"], config.artifacts_dir, examples, said)
        except OSError as err:  # a cache that cannot be written costs the next run its shortcut, not this run
            print(f"warning: --gate_cache_dir: verdict not remembered ({err})", file=stream, flush=True)
    return f"{examples} examples{_of(meta)} {said}"


def _of(meta) -> str:
    """What the gate validated, when it is a slice of a split: it says so."""
    return f" of the slice {meta.train_slice}" if meta.train_slice else ""


def _settings(config: ValidationConfig) -> dict:
    """What the verdict depends on besides the data, the schema and the baseline (not where or how Beam runs)."""
    settings = dataclasses.asdict(config)
    for where_or_how in ("data", "artifacts_dir", "runner", "progress_every_rows"):
        settings.pop(where_or_how, None)
    return settings


def verdict(result, unit: str = "records") -> str:
    """What happens to the data, in words: the line printed must match the exit status that follows.

    Data let through with bad records (files) skipped under --max_bad_record_fraction is not
    called plainly clean: the count skipped is part of the verdict, and of its recall.
    """
    if result.clean:
        skipped = sum(sum(counts.values()) for counts in result.bad_record_counts.values())
        return f"clean but {skipped:,} bad {unit} skipped" if skipped else "clean"
    if result.passed:
        return "ALLOWED despite findings (--allow_anomalies)"
    return "REFUSED: " + "; ".join(f"{f.kind} {f.feature}: {f.description}" for f in result.findings)
