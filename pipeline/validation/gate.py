"""The validation gate: statistics -> schema -> checks -> artifacts -> a verdict.

``run_gate(config)`` is what scripts/validate_data.py, the training flow and
the retraining pipeline call before they use a span. Its ``GateResult`` says
whether the data is clean; ``enforce(result)`` turns a refused span into a
``DataRejectedError`` (exit status 3). ``--allow_anomalies`` lets a span
through anyway, and the result (result.json in the span's directory) records
that it did.

Artifacts, under ``<artifacts_dir>/spans/span-<N>/``: statistics.pb,
anomalies.pbtxt, anomalies.txt, report.html (one self-contained page) and its
charts as PNG files (class_balance.png, image_sizes.png, drift-<feature>.png,
skew-<feature>.png), bad_records.json, result.json (and serving_* twins when
serving data is given). The curated schema is ``<artifacts_dir>/schema.pbtxt``
unless ``schema_path`` says otherwise.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import time

import tensorflow as tf
from tensorflow_metadata.proto.v0 import statistics_pb2

from common.errors import KestrelError, UsageError
from common.params import too_many_bad
from pipeline.filesystem import ensure_writable_dir
from pipeline.validation import checks, image_samples, readers, report, schema, statistics
from pipeline.validation.checks import Finding
from pipeline.validation.config import ENVIRONMENTS, FORMATS, RUNNING_MODES, Thresholds, ValidationConfig

CLEAN_EXIT = 0
# Distinct from 1 (the run failed) and 2 (usage error): the run worked and the data is refused.
DATA_REJECTED_EXIT = 3

_SPAN_DIR = re.compile(r"^span-(\d+)/?$")
# Bad records named in the summary (the rest are counted, and sampled in bad_records.json).
MAX_NAMED = 10
MAX_NAMED_PER_KIND = readers.SummarizeBadRecords.MAX_SAMPLES


class DataRejectedError(KestrelError):
    """The gate found anomalies, drift, skew or bad records and --allow_anomalies was not given."""

    exit_code = DATA_REJECTED_EXIT


@dataclasses.dataclass(frozen=True)
class GateResult:
    """The verdict on one span, and where everything about it was written."""

    clean: bool
    allow_anomalies: bool
    summary: str
    span: int
    environment: str
    anomalies: tuple[Finding, ...]  # schema anomalies of the data (and of the serving data)
    drift: tuple[Finding, ...]
    skew: tuple[Finding, ...]
    bad_records: tuple[Finding, ...]  # only when above max_bad_record_fraction
    measurements: tuple[checks.Measurement, ...]
    num_examples: dict[str, int]
    bad_record_counts: dict[str, dict[str, int]]
    schema_action: str  # "loaded", "inferred" or "updated"
    previous_span: int | None
    paths: dict[str, str]
    seconds: float

    @property
    def passed(self) -> bool:
        """Clean, or let through by --allow_anomalies."""
        return self.clean or self.allow_anomalies

    @property
    def headline(self) -> str:
        """One line: span, environment, verdict and counts (for a registry or a log)."""
        return self.summary.splitlines()[0] if self.summary else ""

    @property
    def exit_code(self) -> int:
        return CLEAN_EXIT if self.passed else DATA_REJECTED_EXIT

    @property
    def findings(self) -> tuple[Finding, ...]:
        return self.anomalies + self.drift + self.skew + self.bad_records

    def as_dict(self) -> dict:
        return {
            "clean": self.clean,
            "passed": self.passed,
            "allow_anomalies": self.allow_anomalies,
            "allowed_despite_findings": self.allow_anomalies and not self.clean,
            "span": self.span,
            "environment": self.environment,
            "num_examples": self.num_examples,
            "bad_record_counts": self.bad_record_counts,
            "schema_action": self.schema_action,
            "previous_span": self.previous_span,
            "findings": [f.as_dict() for f in self.findings],
            "measurements": [m.as_dict() for m in self.measurements],
            "paths": self.paths,
            "seconds": round(self.seconds, 2),
            "summary": self.summary,
        }


def enforce(result: GateResult) -> GateResult:
    """Returns ``result`` if the span may be used; raises DataRejectedError (exit 3) if not."""
    if not result.passed:
        counts = _counts(result)
        raise DataRejectedError(
            f"data validation refused span {result.span} ({counts}); see {result.paths['report_html']}; "
            "--allow_anomalies lets it through"
        )
    return result


def _counts(result: GateResult) -> str:
    parts = [
        f"{len(result.anomalies)} anomalies",
        f"{len(result.drift)} drift",
        f"{len(result.skew)} skew",
    ]
    if result.bad_records:
        parts.append(f"{len(result.bad_records)} bad-record finding(s)")
    return ", ".join(parts)


# --- configuration checks --------------------------------------------------


def _check_config(config: ValidationConfig) -> None:
    _check_inputs(config)
    _check_limits(config)
    _check_thresholds(config.thresholds)
    if len(config.csv_delimiter) != 1:
        raise UsageError("csv_delimiter", "must be one character")


def _check_inputs(config: ValidationConfig) -> None:
    """What to read, as what, and how to run it."""
    if not config.data:
        raise UsageError("data", "give the data to validate (a glob of TFRecord/CSV files, or an image folder)")
    if config.data_format not in FORMATS:
        raise UsageError("data_format", f"'{config.data_format}' is not one of {', '.join(FORMATS)}")
    if config.environment not in ENVIRONMENTS:
        raise UsageError("environment", f"'{config.environment}' is not one of {', '.join(ENVIRONMENTS)}")
    if config.serving_data and config.environment != schema.TRAINING:
        raise UsageError("serving_data", "skew compares TRAINING data with serving data; use --environment=TRAINING")
    if config.runner.direct_running_mode not in RUNNING_MODES:
        raise UsageError("direct_running_mode", f"'{config.runner.direct_running_mode}' is not one of {RUNNING_MODES}")


def _check_limits(config: ValidationConfig) -> None:
    if config.span is not None and config.span < 0:
        raise UsageError("span", "spans are numbered from 0")
    if not 0.0 <= config.max_bad_record_fraction <= 1.0:
        raise UsageError("max_bad_record_fraction", "must be between 0 and 1")


def _check_thresholds(t: Thresholds) -> None:
    for name in ("categorical_drift", "numeric_drift", "categorical_skew", "numeric_skew"):
        if getattr(t, name) < 0:
            raise UsageError(f"{name}_threshold", "thresholds are >= 0 (0 turns the check off)")
    for flag, overrides in (("drift_thresholds", t.drift_overrides), ("skew_thresholds", t.skew_overrides)):
        for feature, value in overrides:
            if value < 0:
                raise UsageError(flag, f"threshold for '{feature}' is negative")


# --- spans ---------------------------------------------------------------


def spans_dir(artifacts_dir: str) -> str:
    return os.path.join(artifacts_dir, "spans")


def span_dir(artifacts_dir: str, span: int) -> str:
    return os.path.join(spans_dir(artifacts_dir), f"span-{span}")


def existing_spans(artifacts_dir: str) -> list[int]:
    root = spans_dir(artifacts_dir)
    if not tf.io.gfile.isdir(root):
        return []
    return sorted(int(m.group(1)) for name in tf.io.gfile.listdir(root) if (m := _SPAN_DIR.match(name)))


def _read_result(artifacts_dir: str, span: int) -> dict | None:
    path = os.path.join(span_dir(artifacts_dir, span), "result.json")
    try:
        with tf.io.gfile.GFile(path) as f:
            return json.load(f)
    except (tf.errors.OpError, OSError, ValueError):
        return None


def next_span(artifacts_dir: str, spans: list[int]) -> int:
    """The number a new span gets: one past the newest accepted span. A refused (or unfinished) attempt
    does not use a number up: the next attempt validates into its directory again."""
    accepted = [span for span in spans if (_read_result(artifacts_dir, span) or {}).get("passed")]
    return accepted[-1] + 1 if accepted else 0


def previous_accepted_span(artifacts_dir: str, before: int, environment: str) -> int | None:
    """The newest span before ``before`` that passed the gate in the same environment.

    Drift is measured against data that was accepted: a refused span is not a baseline.
    """
    for span in reversed(existing_spans(artifacts_dir)):
        if span >= before:
            continue
        result = _read_result(artifacts_dir, span)
        accepted = result and result.get("passed") and result.get("environment") == environment
        if accepted and tf.io.gfile.exists(statistics.statistics_file(span_dir(artifacts_dir, span), "data")):
            return span
    return None


# --- the gate --------------------------------------------------------------


def _bad_record_findings(
    role_stats: dict[str, statistics.RoleStatistics], config: ValidationConfig
) -> tuple[list[Finding], dict[str, dict[str, int]]]:
    findings, counts = [], {}
    for role, rs in role_stats.items():
        bad = rs.bad_records
        counts[role] = dict(bad.counts)
        findings += _corrupt_file_findings(role, bad)
        # A corrupt file is one finding of its own above; the fraction is over records.
        records = {k: n for k, n in bad.counts.items() if k != readers.CORRUPT_TFRECORD_FILE}
        bad_total = sum(records.values())
        total = bad_total + rs.num_examples
        if too_many_bad(bad_total, total, config.max_bad_record_fraction):
            kinds = ", ".join(f"{n:,} {k}" for k, n in sorted(records.items()))
            named = "; ".join(_sample_line(b) for b in bad.samples if b["kind"] in records)
            findings.append(
                Finding(
                    checks.BAD_RECORDS,
                    f"({role})",
                    f"{bad_total:,} of {total:,} records could not be read, above --max_bad_record_fraction="
                    f"{config.max_bad_record_fraction:g} ({kinds}): {named}; "
                    f"samples: {os.path.basename(rs.bad_records_path)}",
                )
            )
    return findings, counts


def _corrupt_file_findings(role: str, bad: statistics.BadRecords) -> list[Finding]:
    """A torn or overwritten TFRecord file: refused whatever the fraction, since its lost records cannot be counted."""
    return [
        Finding(
            checks.BAD_RECORDS,
            f"({role})",
            f"'{b['where']}' is a corrupt TFRecord file ({b['sample']}); the records after the damage cannot "
            "be read or counted: re-create or remove the file",
        )
        for b in bad.samples
        if b["kind"] == readers.CORRUPT_TFRECORD_FILE
    ]


def _sample_line(bad: dict) -> str:
    """One bad record as a person reads it: where (a file) and why, or the kind and the sample."""
    if bad.get("where"):
        return f"{bad['where']}: {bad['sample']}"
    return f"{bad['kind']}: {bad['sample']}"


def _role_lines(role: str, rs: statistics.RoleStatistics, hidden: tuple[str, ...]) -> list[str]:
    what = "data" if role == "data" else f"{role} data"
    bad = rs.bad_records
    kinds = f" ({', '.join(f'{n:,} {k}' for k, n in sorted(bad.counts.items()))})" if bad.total else ""
    lines = [f"{what}: {rs.num_examples:,} examples, {bad.total:,} bad records{kinds}"]
    lines += [f"  {_sample_line(b)}" for b in bad.samples[:MAX_NAMED]]
    if bad.total > min(len(bad.samples), MAX_NAMED):
        lines.append(f"  ... the first {MAX_NAMED_PER_KIND} of each kind in {rs.bad_records_path}")
    if hidden:
        lines.append(f"{what}: {len(hidden)} hidden file(s) not read: {', '.join(hidden[:MAX_NAMED])}")
    return lines


def _summary_text(
    *,
    config: ValidationConfig,
    span: int,
    role_stats: dict[str, statistics.RoleStatistics],
    schema_outcome: schema.SchemaOutcome,
    previous: tuple[int | None, str | None],
    result_counts: str,
    clean: bool,
    findings: list[Finding],
    measurements: tuple[checks.Measurement, ...],
    hidden: dict[str, tuple[str, ...]],
) -> str:
    lines = []
    for role, rs in role_stats.items():
        lines += _role_lines(role, rs, hidden.get(role, ()))
    action = {
        "inferred": "inferred from this span and written (review and commit it)",
        "updated": f"updated from this span (previous version kept as {schema_outcome.backup_path})",
        "loaded": "loaded",
    }[schema_outcome.action]
    lines.append(f"schema: {schema_outcome.path} {action}")
    previous_span, previous_path = previous
    if previous_path:
        label = f"span {previous_span}" if previous_span is not None else previous_path
        lines.append(f"drift: compared with {label}")
    else:
        lines.append("drift: no previous accepted span to compare with")
    if "serving" in role_stats:
        lines.append("skew: training data compared with serving data")
    if clean:
        skipped = sum(rs.bad_records.total for rs in role_stats.values())
        verdict = (
            f"CLEAN but {skipped:,} bad records skipped (within --max_bad_record_fraction)" if skipped else "CLEAN"
        )
    elif config.allow_anomalies:
        verdict = f"NOT CLEAN ({result_counts}), allowed by --allow_anomalies"
    else:
        verdict = f"REFUSED ({result_counts})"
    text = [f"span {span} ({config.environment}): {verdict}", *("  " + line for line in lines), ""]
    text.append(report.findings_table(findings))
    if measurements:
        text += ["", report.measurements_table(measurements)]
    return "\n".join(text)


def _resolve_input(
    config: ValidationConfig,
    patterns: tuple[str, ...],
    role: str,
    flag: str,
    ranges: tuple[tuple[str, int, int], ...] = (),
) -> readers.InputSpec:
    """One of the span's inputs (the data, or the serving data) resolved in the config's format."""
    return readers.resolve_input(
        patterns, config.data_format, role=role, flag=flag, delimiter=config.csv_delimiter, ranges=ranges
    )


def run_gate(config: ValidationConfig) -> GateResult:
    """Validates one span end to end and writes its artifacts; never raises for dirty data.

    Raises UsageError (exit 2) for bad inputs: a glob that matches nothing, zero rows,
    an unreadable schema; KestrelError (exit 1) when the Beam job fails.
    """
    start = time.monotonic()
    _check_config(config)
    ensure_writable_dir(config.artifacts_dir, "artifacts_dir")
    specs = [_resolve_input(config, config.data, "data", "data", config.record_ranges)]
    if config.serving_data:
        specs.append(_resolve_input(config, config.serving_data, "serving", "serving_data"))
    spans = existing_spans(config.artifacts_dir)
    span = config.span if config.span is not None else next_span(config.artifacts_dir, spans)
    out_dir = span_dir(config.artifacts_dir, span)
    schema_path = config.resolved_schema_path
    curated = schema.load_schema(schema_path) if tf.io.gfile.exists(schema_path) else None
    previous_path, previous_span = config.previous_statistics, None
    previous_stats: statistics_pb2.DatasetFeatureStatisticsList | None = None
    if previous_path:
        previous_stats = statistics.load_statistics(previous_path, "previous_statistics")
    print(f"validating span {span} ({config.environment}) into {out_dir}", flush=True)
    # A result.json marks a span's artifacts complete (and a baseline if it passed): not while rerunning it.
    stale = os.path.join(out_dir, "result.json")
    if tf.io.gfile.exists(stale):
        tf.io.gfile.remove(stale)

    role_stats = statistics.compute_statistics(specs, out_dir, config, curated)
    for spec in specs:
        rs = role_stats[spec.role]
        if rs.num_examples == 0:
            raise UsageError(
                spec.flag,
                f"{len(spec.files)} file(s) matched but hold zero readable rows "
                f"({rs.bad_records.total:,} bad records; see {rs.bad_records_path})",
            )
    data = role_stats["data"]
    serving = role_stats.get("serving")

    outcome = schema.resolve_schema(
        schema_path,
        data.statistics,
        label=config.label,
        update=config.update_schema,
        environment=config.environment,
    )
    if previous_stats is None:
        previous_span = previous_accepted_span(config.artifacts_dir, span, config.environment)
        if previous_span is not None:
            previous_path = statistics.statistics_file(span_dir(config.artifacts_dir, previous_span), "data")
            previous_stats = statistics.load_statistics(previous_path, "previous_statistics")

    result = checks.check(
        data.statistics,
        schema.with_comparators(outcome.schema, config.thresholds, config.label),
        environment=config.environment,
        previous_statistics=previous_stats,
        serving_statistics=serving.statistics if serving else None,
    )
    bad_findings, bad_counts = _bad_record_findings(role_stats, config)
    findings = list(result.findings) + bad_findings
    clean = not findings

    paths = {
        "span_dir": out_dir,
        "schema": outcome.path,
        "statistics": data.statistics_path,
        "bad_records": data.bad_records_path,
        "anomalies": os.path.join(out_dir, "anomalies.pbtxt"),
        "anomalies_table": os.path.join(out_dir, "anomalies.txt"),
        "report_html": os.path.join(out_dir, "report.html"),
        "result_json": os.path.join(out_dir, "result.json"),
    }
    if previous_path:
        paths["previous_statistics"] = previous_path
    if serving:
        paths["serving_statistics"] = serving.statistics_path
        paths["serving_bad_records"] = serving.bad_records_path
        paths["serving_anomalies"] = os.path.join(out_dir, "serving_anomalies.pbtxt")

    gate_result = GateResult(
        clean=clean,
        allow_anomalies=config.allow_anomalies,
        summary="",
        span=span,
        environment=config.environment,
        anomalies=result.of_kind(checks.ANOMALY, checks.SERVING_ANOMALY),
        drift=result.of_kind(checks.DRIFT),
        skew=result.of_kind(checks.SKEW),
        bad_records=tuple(bad_findings),
        measurements=result.measurements,
        num_examples={role: rs.num_examples for role, rs in role_stats.items()},
        bad_record_counts=bad_counts,
        schema_action=outcome.action,
        previous_span=previous_span,
        paths=paths,
        seconds=0.0,
    )
    summary = _summary_text(
        config=config,
        span=span,
        role_stats=role_stats,
        schema_outcome=outcome,
        previous=(previous_span, previous_path),
        result_counts=_counts(gate_result),
        clean=clean,
        findings=findings,
        measurements=result.measurements,
        hidden={spec.role: spec.hidden_files for spec in specs},
    )
    gate_result = dataclasses.replace(gate_result, summary=summary, seconds=time.monotonic() - start)
    _write_artifacts(gate_result, result, role_stats, previous_stats, specs[0], config.label)
    return gate_result


def _write_artifacts(
    gate_result: GateResult,
    result: checks.CheckResult,
    role_stats: dict[str, statistics.RoleStatistics],
    previous_stats: statistics_pb2.DatasetFeatureStatisticsList | None,
    data_spec: readers.InputSpec,
    label: str | None,
) -> None:
    paths = gate_result.paths
    report.write_anomalies(result.anomalies, paths["anomalies"])
    if result.serving_anomalies is not None:
        report.write_anomalies(result.serving_anomalies, paths["serving_anomalies"])
    report.write_text(paths["anomalies_table"], gate_result.summary + "\n")
    report.write_html(paths["report_html"], _report_data(gate_result, role_stats, previous_stats, data_spec, label))
    # Written last: a result.json means the span's artifacts are complete.
    report.write_text(paths["result_json"], json.dumps(gate_result.as_dict(), indent=2, sort_keys=True) + "\n")


def _report_data(
    gate_result: GateResult,
    role_stats: dict[str, statistics.RoleStatistics],
    previous_stats: statistics_pb2.DatasetFeatureStatisticsList | None,
    data_spec: readers.InputSpec,
    label: str | None,
) -> report.ReportData:
    """What report.html shows: this span, its baselines, and for an image folder a look at the files."""
    data = role_stats["data"]
    previous = None
    if previous_stats is not None:
        name = f"previous span {gate_result.previous_span}" if gate_result.previous_span is not None else "previous"
        previous = report.Named(name, previous_stats)
    serving = report.Named("serving data", role_stats["serving"].statistics) if "serving" in role_stats else None
    images = None
    if data_spec.format == "images":
        label = label or "label"  # the image folder's class feature is always there (readers._ImageToExample)
        bad_files = [b["where"] for b in data.bad_records.samples if b.get("where")]
        images = image_samples.sample_images(data_spec, bad_files)
    return report.ReportData(
        title=f"kestrel data validation, span {gate_result.span} ({gate_result.environment})",
        summary=gate_result.summary,
        clean=gate_result.clean,
        findings=gate_result.findings,
        measurements=gate_result.measurements,
        current=report.Named(f"span {gate_result.span}", data.statistics),
        previous=previous,
        serving=serving,
        label=label,
        images=images,
        image_feature=readers.IMAGE_FEATURE,
        bad=report.BadList(dict(data.bad_records.counts), data.bad_records.samples, data.bad_records_path),
    )
