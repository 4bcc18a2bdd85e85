"""The options of one data-validation run, as one immutable record.

Flags become a ``ValidationConfig`` once (scripts/flags/_validation.py); the gate,
the Beam job and the checks only read it, so the training flow and the
retraining pipeline can build one in Python and call ``gate.run_gate``.
"""

from __future__ import annotations

import dataclasses
import os

from common.params import MAX_BAD_RECORD_FRACTION

FORMATS = ("auto", "tfrecord", "csv", "images", "text", "texts")
ENVIRONMENTS = ("TRAINING", "SERVING")
# "auto" is kestrel's: it picks one of Beam's three DirectRunner modes by the input's size.
AUTO = "auto"
RUNNING_MODES = (AUTO, "multi_processing", "multi_threading", "in_memory")
# Measured (docs/benchmarks.md, "The gate's runner by the data's size"): below this much input
# the multi-process DirectRunner costs more (starting the workers, each importing TFDV) than its
# second core saves, so "auto" runs in_memory; from here on it runs one worker per core. The
# crossover measured at 166 MB (the two even); a little above it, in_memory's third of the memory decides.
AUTO_MULTI_PROCESSING_BYTES = 192 * 2**20


def resolve_running_mode(mode: str, input_bytes: int | None, cores: int | None) -> str:
    """The DirectRunner mode to run: ``mode`` itself unless it is "auto".

    An unknown size (None) counts as large: that is the case the multi-process runner exists for.
    """
    if mode != AUTO:
        return mode
    if (cores or 1) < 2:
        return "in_memory"
    if input_bytes is not None and input_bytes < AUTO_MULTI_PROCESSING_BYTES:
        return "in_memory"
    return "multi_processing"


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """Drift (span vs previous span) and skew (training vs serving) limits.

    Categorical features are compared with the L-infinity distance between
    value frequencies, numeric ones with the Jensen-Shannon divergence between
    histograms. A per-feature override wins over the feature's comparator in
    the curated schema, which wins over these defaults; 0 turns a check off.
    """

    categorical_drift: float = 0.1
    numeric_drift: float = 0.1
    categorical_skew: float = 0.1
    numeric_skew: float = 0.1
    drift_overrides: tuple[tuple[str, float], ...] = ()
    skew_overrides: tuple[tuple[str, float], ...] = ()

    def drift_override(self, feature: str) -> float | None:
        return dict(self.drift_overrides).get(feature)

    def skew_override(self, feature: str) -> float | None:
        return dict(self.skew_overrides).get(feature)


@dataclasses.dataclass(frozen=True)
class RunnerOptions:
    """Which Beam runner computes the statistics.

    ``beam_args`` are standard Beam pipeline options passed through untouched
    (``--runner=DataflowRunner --project=... --region=... --temp_location=gs://...``).
    Without a ``--runner`` the DirectRunner runs in ``direct_running_mode``
    with ``direct_num_workers`` workers (0: one per core); "auto" runs small
    inputs in_memory and large ones multi_processing (``resolve_running_mode``).
    """

    beam_args: tuple[str, ...] = ()
    direct_running_mode: str = AUTO
    direct_num_workers: int = 0


@dataclasses.dataclass(frozen=True)
class ValidationConfig:
    """One validation run: which data, which schema, which limits, where the artifacts go."""

    data: tuple[str, ...]
    artifacts_dir: str
    # TFRecord data: (file, skip, take) of each file of ``data`` when only a slice is read (a sliced
    # TFDS split, as training reads it); () reads every record.
    record_ranges: tuple[tuple[str, int, int], ...] = ()
    data_format: str = "auto"
    environment: str = "TRAINING"
    # Serving data to compare the training data with (skew); validated in SERVING.
    serving_data: tuple[str, ...] = ()
    label: str | None = "label"
    # Spans are numbered; None takes the next number after the newest span in artifacts_dir.
    span: int | None = None
    # None: <artifacts_dir>/schema.pbtxt.
    schema_path: str | None = None
    update_schema: bool = False
    allow_anomalies: bool = False
    # None: the newest accepted span before this one, in the same environment.
    previous_statistics: str | None = None
    # Fraction of bad records (unusable images, malformed lines, unparseable records) tolerated
    # before the gate refuses: the same threshold as the trainer's --check_images. A corrupt
    # TFRecord file is refused whatever this says: the records after its damage cannot be counted.
    max_bad_record_fraction: float = MAX_BAD_RECORD_FRACTION
    csv_delimiter: str = ","
    # TFDV's semantic-domain statistics: image format/width/height, text, time.
    semantic_domain_stats: bool = True
    thresholds: Thresholds = Thresholds()
    runner: RunnerOptions = RunnerOptions()
    progress_every_rows: int = 100_000

    def __post_init__(self) -> None:
        # A single glob is the common case; keep the record a tuple either way.
        for name in ("data", "serving_data"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, (value,) if value else ())
            else:
                object.__setattr__(self, name, tuple(value))

    @property
    def resolved_schema_path(self) -> str:
        return self.schema_path or os.path.join(self.artifacts_dir, "schema.pbtxt")

    def replace(self, **changes) -> ValidationConfig:
        return dataclasses.replace(self, **changes)
