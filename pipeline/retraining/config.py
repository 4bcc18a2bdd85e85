"""The options of scheduled retraining, as one immutable record.

Flags become a ``RetrainConfig`` once (scripts/flags/_retrain.py); the flow only
reads it, so a test or another orchestrator can build one in Python.
"""

from __future__ import annotations

import dataclasses
import os

from common.params import Hparams
from pipeline.retraining.blessing import BlessingPolicy


@dataclasses.dataclass(frozen=True)
class RetrainConfig:
    # Where spans arrive: a directory of span folders, or a pattern with {SPAN}.
    spans: str
    # The fixed holdout every candidate and the blessed model are measured on (folder or file pattern).
    holdout: str
    # Registry, lock, one model_dir per run (kept, blessed or not), validation artifacts.
    work_dir: str
    # TF Serving's base: versions go to <serving_dir>/<model_name>/<version>/.
    serving_dir: str
    model_name: str = "kestrel"
    span_window: int = 1  # train on the newest K spans
    keep_versions: int = 5  # numbered versions kept in the serving directory
    blessing: BlessingPolicy = BlessingPolicy()
    force: bool = False  # retrain a span that already has a decision
    allow_anomalies: bool = False  # let the validation gate's anomalies through (recorded, not blocking)
    warm_start: bool = True  # from the blessed model's checkpoint when model and schema are unchanged
    # The gate's Beam DirectRunner mode: multi_processing for big spans, in_memory for small ones (no workers).
    validation_running_mode: str = "auto"  # in_memory on small spans, multi_processing on large
    # Model, training and checkpoint hyperparameters; the data and output sections are filled per run.
    hparams: Hparams = Hparams()

    @property
    def runs_dir(self) -> str:
        return os.path.join(self.work_dir, "runs")

    @property
    def validation_dir(self) -> str:
        return os.path.join(self.work_dir, "validation")

    def record(self) -> dict:
        """The run's flags, as the registry keeps them (JSON-able)."""
        return dataclasses.asdict(self)
