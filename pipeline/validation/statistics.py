"""The Beam job: read -> tfdv.GenerateStatistics -> statistics files, for every input in one pipeline.

The training data and the serving data (when given) are two branches of the
same pipeline, so a remote runner starts once. Each branch writes its
DatasetFeatureStatisticsList and a JSON summary of its bad records.
"""

from __future__ import annotations

from pipeline.validation import quiet_tfdv  # noqa: F401  (before TFDV itself)

# isort: split

import dataclasses
import json
import os
import shlex
import sys
import time

import apache_beam as beam
import numpy as np
import tensorflow as tf
import tensorflow_data_validation as tfdv
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import (
    DirectOptions,
    PipelineOptions,
    SetupOptions,
    StandardOptions,
    WorkerOptions,
)
from tensorflow_data_validation.statistics import stats_impl
from tensorflow_data_validation.statistics.generators import (
    image_stats_generator,
    natural_language_domain_inferring_stats_generator,
)
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

from common.errors import KestrelError, UsageError
from common.writes import write_whole
from pipeline.validation import readers
from pipeline.validation.config import (
    AUTO,
    AUTO_MULTI_PROCESSING_BYTES,
    RunnerOptions,
    ValidationConfig,
    resolve_running_mode,
)


@dataclasses.dataclass(frozen=True)
class BadRecords:
    counts: dict[str, int]
    samples: tuple[dict, ...]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclasses.dataclass(frozen=True)
class RoleStatistics:
    """The statistics of one input, where they were written, and what could not be read."""

    statistics: statistics_pb2.DatasetFeatureStatisticsList
    statistics_path: str
    bad_records: BadRecords
    bad_records_path: str

    @property
    def num_examples(self) -> int:
        datasets = self.statistics.datasets
        return int(datasets[0].num_examples) if datasets else 0


@dataclasses.dataclass(frozen=True)
class JobTiming:
    """Where a statistics job's time went: worker start-up apart from the statistics pass.

    ``first_batch`` and ``last_batch`` are seconds after the job started at which the first and
    the last record batch were decoded, on any worker (Beam metrics; None where the runner
    reports none). The pass runs from the first batch to the job's end: reading, decoding,
    statistics, merging the workers' accumulators and writing them.
    """

    job_seconds: float
    first_batch: float | None
    last_batch: float | None

    @property
    def startup_seconds(self) -> float | None:
        """Job start to the first decoded batch: starting the workers, importing TFDV there, listing files."""
        return self.first_batch

    @property
    def pass_seconds(self) -> float:
        return self.job_seconds - (self.first_batch or 0.0)

    @property
    def tail_seconds(self) -> float | None:
        """The last decoded batch to the job's end: the final merge of accumulators and the writes."""
        return None if self.last_batch is None else self.job_seconds - self.last_batch

    def as_dict(self) -> dict:
        return {
            "job_seconds": round(self.job_seconds, 2),
            "startup_seconds": None if self.first_batch is None else round(self.first_batch, 2),
            "pass_seconds": round(self.pass_seconds, 2),
            "decode_seconds": None
            if self.first_batch is None or self.last_batch is None
            else round(self.last_batch - self.first_batch, 2),
            "tail_seconds": None if self.tail_seconds is None else round(self.tail_seconds, 2),
        }


_last_timing: JobTiming | None = None


def last_job_timing() -> JobTiming | None:
    """The timing of the last statistics job this process ran (the benchmark reads it)."""
    return _last_timing


def statistics_file(span_dir: str, role: str) -> str:
    return os.path.join(span_dir, "statistics.pb" if role == "data" else f"{role}_statistics.pb")


def bad_records_file(span_dir: str, role: str) -> str:
    return os.path.join(span_dir, "bad_records.json" if role == "data" else f"{role}_bad_records.json")


def pipeline_options(runner: RunnerOptions, input_bytes: int | None = None) -> PipelineOptions:
    """The user's Beam options as given; DirectRunner defaults only where they set nothing.

    ``input_bytes`` (the size of everything the job reads) decides the "auto" running mode.
    """
    args = list(runner.beam_args)
    options = PipelineOptions(args)
    # Which options the user set, read from the arguments: a value equal to Beam's default counts.
    given = {a[2:].split("=", 1)[0] for a in args if a.startswith("--")}
    runner_name = options.view_as(StandardOptions).runner
    if runner_name not in (None, "DirectRunner", "direct") and "pickle_library" not in given:
        _ship_code_by_value(options)
    if runner_name in (None, "DirectRunner", "direct"):
        direct = options.view_as(DirectOptions)
        if "direct_running_mode" not in given:
            direct.direct_running_mode = resolve_running_mode(runner.direct_running_mode, input_bytes, os.cpu_count())
        if "default_sdk_harness_log_level" not in given:
            # Worker processes forward every WARNING (unknown args, snappy) as noise; errors still show.
            options.view_as(WorkerOptions).default_sdk_harness_log_level = "ERROR"
        if "direct_num_workers" not in given:
            # in_memory runs everything in this process: more than one worker only earns a warning.
            in_memory = direct.direct_running_mode == "in_memory"
            direct.direct_num_workers = 1 if in_memory else runner.direct_num_workers or os.cpu_count() or 1
    return options


def _auto_note(runner: RunnerOptions, options: PipelineOptions, specs: list[readers.InputSpec]) -> str:
    """Why "auto" chose the mode it did, for the log."""
    if runner.direct_running_mode != AUTO or options.view_as(StandardOptions).runner not in (None, "DirectRunner"):
        return ""
    size = sum(spec.num_bytes for spec in specs)
    side = "<" if size < AUTO_MULTI_PROCESSING_BYTES else ">="
    return f"; auto: {size / 2**20:,.1f} MiB of input {side} {AUTO_MULTI_PROCESSING_BYTES / 2**20:,.0f} MiB"


def _ship_code_by_value(options: PipelineOptions) -> None:
    """Remote workers (Dataflow, Flink, Spark) have the pinned libraries but not kestrel's code.

    Beam pickles this package's DoFns by reference (an import on the worker); cloudpickle
    with these modules registered by value ships their code inside the pipeline instead,
    so no kestrel package has to be built and staged.
    """
    import cloudpickle

    from common import progress
    from input_fns import image_folder, preprocessing

    cloudpickle.register_pickle_by_value(readers)
    cloudpickle.register_pickle_by_value(progress)  # the workers' progress line
    # The image check the workers run is the trainer's own (image_folder.read_image_file).
    cloudpickle.register_pickle_by_value(image_folder)
    cloudpickle.register_pickle_by_value(preprocessing)
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    options.view_as(SetupOptions).pickle_library = "cloudpickle"


def worker_count(options: PipelineOptions) -> int:
    """Workers that share the decoding, as far as the options say (1 when they do not)."""
    runner_name = options.view_as(StandardOptions).runner
    if runner_name in (None, "DirectRunner", "direct"):
        direct = options.view_as(DirectOptions)
        return 1 if direct.direct_running_mode == "in_memory" else max(1, direct.direct_num_workers or 1)
    workers = options.view_as(WorkerOptions)
    return max(1, workers.num_workers or workers.max_num_workers or 1)


def describe_runner(options: PipelineOptions) -> str:
    runner_name = options.view_as(StandardOptions).runner or "DirectRunner"
    if runner_name in ("DirectRunner", "direct"):
        direct = options.view_as(DirectOptions)
        return f"DirectRunner ({direct.direct_running_mode}, {direct.direct_num_workers} worker(s))"
    return runner_name


def parse_beam_args(text: str) -> tuple[str, ...]:
    try:
        return tuple(shlex.split(text or ""))
    except ValueError as err:
        raise UsageError("beam_args", f"cannot split {text!r}: {err}") from None


class _ImageDecoder(image_stats_generator.TfImageDecoder):
    """TFDV's decoder fails on a batch without any image (tf.map_fn of nothing): answer that here."""

    def __reduce__(self):
        return _ImageDecoder, ()

    def get_sizes(self, values: np.ndarray) -> np.ndarray:
        if len(values) == 0:
            return np.empty((0, 2), dtype=np.int32)
        return super().get_sizes(values)


def stats_options(config: ValidationConfig, schema: schema_pb2.Schema | None) -> tfdv.StatsOptions:
    """TFDV options: the curated schema tells TFDV which integer features are categorical.

    Before a schema exists, a one-feature schema marks an integer label categorical,
    so that even the first span has the value counts its label drift is measured on.
    """
    if schema is None and config.label:
        schema = schema_pb2.Schema()
        label = schema.feature.add(name=config.label, type=schema_pb2.INT)
        label.int_domain.is_categorical = True
    generators = None
    if config.semantic_domain_stats:
        # TFDV's own semantic-domain set (enable_semantic_domain_stats) leaves image sizes off;
        # here its image generator has them on (format, width, height). Its time-domain
        # generator is left out: it runs ~20 regular expressions over every string and int
        # value and took over half of the statistics time on tabular data (docs/validation.md).
        generators = [
            stats_impl.CombinerFeatureStatsWrapperGenerator(
                [
                    image_stats_generator.ImageStatsGenerator(image_decoder=_ImageDecoder(), enable_size_stats=True),
                    natural_language_domain_inferring_stats_generator.NLDomainInferringStatsGenerator(),
                ],
                name="KestrelSemanticDomainStats",
            )
        ]
    return tfdv.StatsOptions(schema=schema, generators=generators)


def compute_statistics(
    specs: list[readers.InputSpec],
    span_dir: str,
    config: ValidationConfig,
    schema: schema_pb2.Schema | None,
) -> dict[str, RoleStatistics]:
    """Runs one Beam pipeline over every input; returns each role's statistics and bad records."""
    options = pipeline_options(config.runner, sum(spec.num_bytes for spec in specs))
    tf.io.gfile.makedirs(span_dir)
    for spec in specs:
        size = spec.num_bytes
        print(
            f"reading {spec.role}: {len(spec.files)} {spec.format} file(s), {size / 1e6:,.1f} MB",
            flush=True,
        )
    print(f"computing statistics on {describe_runner(options)}{_auto_note(config.runner, options, specs)}", flush=True)
    start, start_epoch = time.monotonic(), time.time()
    # Worker processes inherit the environment: keep google-api-core's FutureWarnings out of the log.
    saved = os.environ.get("PYTHONWARNINGS")
    os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [saved, "ignore::FutureWarning"]))
    try:
        p = beam.Pipeline(options=options)
        with p:
            for spec in specs:
                _add_branch(p, spec, span_dir, config, schema, worker_count(options))
    except KestrelError:
        raise
    except Exception as err:  # noqa: BLE001 - a worker failure arrives as any exception type
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise KestrelError(f"the statistics job failed: {first[:300]}") from err
    finally:
        if saved is None:
            os.environ.pop("PYTHONWARNINGS", None)
        else:
            os.environ["PYTHONWARNINGS"] = saved
    timing = _job_timing(p, specs, time.monotonic() - start, start_epoch)
    print(f"statistics computed in {_timing_text(timing)}", flush=True)
    return {spec.role: _load(span_dir, spec.role) for spec in specs}


def _job_timing(p: beam.Pipeline, specs: list[readers.InputSpec], seconds: float, start_epoch: float) -> JobTiming:
    """The job's time, split at the first and last decoded batch (from the workers' metrics)."""
    global _last_timing
    first = last = None
    try:
        for spec in specs:
            query = (
                MetricsFilter().with_namespace("kestrel_validation").with_name(readers.batch_clock_metric(spec.role))
            )
            for found in p.result.metrics().query(query)["distributions"]:
                value = found.committed
                if value is not None and value.count:
                    first = value.min if first is None else min(first, value.min)
                    last = value.max if last is None else max(last, value.max)
    except Exception:  # noqa: BLE001 - a runner without metrics: the job's time alone
        first = last = None

    def offset(ms: int | None) -> float | None:
        return None if ms is None else max(0.0, min(seconds, ms / 1000 - start_epoch))

    _last_timing = JobTiming(seconds, offset(first), offset(last))
    return _last_timing


def _timing_text(timing: JobTiming) -> str:
    text = f"{timing.job_seconds:,.1f} s"
    if timing.first_batch is not None:
        text += f" ({timing.first_batch:,.1f} s to the first decoded batch, then the statistics pass {timing.pass_seconds:,.1f} s)"
    return text


def _add_branch(
    p: beam.Pipeline,
    spec: readers.InputSpec,
    span_dir: str,
    config: ValidationConfig,
    schema: schema_pb2.Schema | None,
    workers: int,
) -> None:
    step = spec.role.capitalize()
    batches, bad = readers.read_record_batches(
        p,
        spec,
        label=config.label,
        delimiter=config.csv_delimiter,
        progress_every=config.progress_every_rows,
        workers=workers,
    )
    # Each branch ends in one element (the statistics proto, the bad-record summary), written by one Map:
    # WriteToText (TFDV's WriteStatisticsToBinaryFile is WriteToText with a ProtoCoder) adds Beam's sink
    # stages around a single file (initialise, write, pre-finalise, finalise), most of a small span's job.
    _ = (
        batches
        | f"{step}GenerateStatistics" >> tfdv.GenerateStatistics(stats_options(config, schema))
        | f"{step}WriteStatistics"
        >> beam.Map(
            lambda stats, path: write_whole(path, stats.SerializeToString()), statistics_file(span_dir, spec.role)
        )
    )
    _ = (
        bad
        | f"{step}SummarizeBad" >> beam.CombineGlobally(readers.SummarizeBadRecords())
        | f"{step}WriteBad"
        >> beam.Map(
            lambda summary, path: write_whole(path, json.dumps(summary, sort_keys=True).encode()),
            bad_records_file(span_dir, spec.role),
        )
    )


def _load(span_dir: str, role: str) -> RoleStatistics:
    stats_path = statistics_file(span_dir, role)
    bad_path = bad_records_file(span_dir, role)
    statistics = tfdv.load_stats_binary(stats_path)
    with tf.io.gfile.GFile(bad_path) as f:
        bad = json.loads(f.read() or '{"counts": {}, "samples": []}')
    return RoleStatistics(
        statistics=statistics,
        statistics_path=stats_path,
        bad_records=BadRecords(counts=dict(bad["counts"]), samples=tuple(bad["samples"])),
        bad_records_path=bad_path,
    )


def load_statistics(path: str, flag: str) -> statistics_pb2.DatasetFeatureStatisticsList:
    try:
        return tfdv.load_stats_binary(path)
    except Exception as err:  # noqa: BLE001 - a missing file, or a bad proto (DecodeError)
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UsageError(flag, f"cannot load statistics from '{path}' ({reason[:200]})") from None
