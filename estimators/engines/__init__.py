"""One interface for every engine: a ``Job`` goes in, a ``Result`` comes out.

``estimator`` (model_to_estimator or a canned Estimator under
train_and_evaluate), ``keras`` (Model.fit) and ``tpu_estimator`` (a
TPUEstimator) each own their whole stage: train on the train role, choose the
model on validation (best export, early stopping), export, then evaluate and
predict the report role (test, or validation when there is no test data). An
engine refuses a setting it cannot honour with a usage error before it trains
(``check``), so the run flow (pipeline/train.py) never asks which engine ran.

Beside the interface, what every engine shares: ``early_stopping`` (the rule),
``precision`` (the mixed-precision policy), ``seeding`` (the RNGs), ``checkpoints``
(the resume point), ``hooks`` (progress and throughput) and ``conversion``
(Keras model -> Estimator).
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
from collections.abc import Callable
from typing import Protocol, TextIO

import numpy as np
import tensorflow as tf

from common import tasks
from common.errors import UsageError
from common.names import EXPORT_DIR, LATEST_EXPORTER
from common.params import ENGINES, CheckpointPolicy, DistributionParams
from common.progress import ProgressLine
from estimators.distribute.cluster import Cluster
from estimators.engines.early_stopping import EarlyStopping
from estimators.models.spec import ModelSpec
from estimators.serving import Serving

InputFn = Callable[..., tf.data.Dataset]


@dataclasses.dataclass(frozen=True)
class Inputs:
    """The data of a job: an input_fn per role and mode, at the batch size an engine asks for."""

    make: Callable[[str, str, int], InputFn]  # (role, mode, global batch size) -> input_fn
    sizes: dict[str, int]  # examples per role
    report_role: str  # TEST, or VALIDATION when there is no test data


@dataclasses.dataclass(frozen=True)
class Job:
    """One training stage: a model (Keras builder, or a canned Estimator by name) and its data."""

    model_name: str
    spec: ModelSpec
    build: Callable[[], tf.keras.Model] | None  # None: a canned Estimator (estimator engine only)
    inputs: Inputs
    model_dir: str
    max_steps: int
    batch_size: int
    distribution: DistributionParams = DistributionParams()
    checkpoints: CheckpointPolicy = CheckpointPolicy()
    strategy: tf.distribute.Strategy | None = None
    eval_steps: int | None = None
    eval_throttle_secs: int = 60
    eval_start_delay_secs: int = 0
    progress_every_steps: int = 100
    seed: int | None = None
    early_stopping: EarlyStopping | None = None
    warm_start_from: str | None = None  # a model_dir whose latest checkpoint initialises the model's weights
    serving: Serving | None = None  # None: no export
    # The served model, when it is not the trained one: built from the trained weights by name
    # (the bottleneck stage trains a head on cached features and serves base + head).
    assemble: Callable[[dict[str, np.ndarray]], tf.keras.Model] | None = None
    stream: TextIO = sys.stdout
    cluster: Cluster | None = None  # from TF_CONFIG (estimators/distribute/cluster.py); None: one process

    @property
    def task(self) -> tasks.Task:
        return tasks.get(self.spec.task)

    def input_fn(self, role: str, mode: str) -> InputFn:
        return self.inputs.make(role, mode, self.batch_size)

    def prediction_progress(self, role: str) -> ProgressLine:
        """The progress line of the report's prediction pass over ``role``: a line per tenth, 2 s apart at least.

        Named ``predicting``, not ``report ...``: the run summary's lines start with their label (``report  <dir>``).
        """
        size = self.inputs.sizes[role]
        every = max(1, size // 10)
        line = ProgressLine(size, 1, every, self.stream, what=f"predicting {role}", min_interval=2.0)
        line.update(0)
        return line

    def steps_for(self, role: str, batch_size: int | None = None) -> int:
        """Batches that cover ``role`` once (the last one partial)."""
        return max(1, math.ceil(self.inputs.sizes[role] / (batch_size or self.batch_size)))


@dataclasses.dataclass
class Result:
    metrics: dict[str, float]  # on the validation role, of the model chosen
    report_metrics: dict[str, float]  # the task's metrics (accuracy or mae, and loss) on the report role
    predictions: np.ndarray | None  # the report role's model outputs in order: class probabilities, or values
    export_path: str | None
    examples_per_sec: float | None
    train_seconds: float
    task: str | None = None  # a TF_CONFIG task other than the chief: it trains, the chief reports


class Engine(Protocol):
    name: str

    def check(self, job: Job) -> None:
        """Raise a UsageError for a setting of ``job`` this engine cannot honour."""

    def run(self, job: Job) -> Result: ...


def export_assembled(job: Job, weights: dict[str, np.ndarray]) -> str:
    """Export ``job.assemble(weights)``, the served model of a stage whose trained model is not it."""
    from estimators.serving.keras_export import export_keras_model

    return export_keras_model(
        job.assemble(weights), os.path.join(job.model_dir, EXPORT_DIR, LATEST_EXPORTER), job.serving
    )


def check_distribution(engine: str, distribution: DistributionParams, clustered: bool = False) -> None:
    """The strategy settings ``engine`` cannot honour, from the flags alone: each engine's ``check``
    starts here, and so does the test of every command the cloud launchers print.

    ``clustered``: a TF_CONFIG cluster was given. --strategy=tpu trains with keras (TPUStrategy,
    what Cloud TPU documents for TF 2) or tpu_estimator; a TPU is one job either way.
    """
    strategy = distribution.strategy
    if engine == "estimator" and strategy == "tpu":
        raise UsageError(
            "strategy",
            "tpu trains with --engine=keras (TPUStrategy) or --engine=tpu_estimator; "
            "model_to_estimator cannot take a TPU strategy",
        )
    if engine == "tpu_estimator" and strategy not in ("tpu", "default"):
        raise UsageError("strategy", "tpu_estimator runs --strategy=tpu")
    if clustered and (engine == "tpu_estimator" or strategy == "tpu"):
        raise UsageError("strategy", f"{engine} on TPU takes no TF_CONFIG cluster: the TPU is one job")
    if engine == "keras" and strategy == "tpu" and distribution.num_shards is not None:
        raise UsageError(
            "num_shards", "a TPUStrategy replicates over every core of the TPU; --num_shards is for tpu_estimator"
        )


def get_engine(name: str) -> Engine:
    # Imported here: each engine pulls in its own stack only when chosen.
    if name == "estimator":
        from estimators.engines.estimator import EstimatorEngine

        return EstimatorEngine()
    if name == "keras":
        from estimators.engines.keras import KerasEngine

        return KerasEngine()
    if name == "tpu_estimator":
        from estimators.engines.tpu_estimator import TpuEstimatorEngine

        return TpuEstimatorEngine()
    # A task's own engines, by the names its plug-in gives (estimators.tasks.base.TaskPlugin.engine_name).
    if name in ("gan_estimator", "gan_keras"):
        from estimators.engines.gan import GanEstimatorEngine, GanKerasEngine

        return GanEstimatorEngine() if name == "gan_estimator" else GanKerasEngine()
    raise UsageError("engine", f"unknown engine '{name}'; allowed: {', '.join(ENGINES)}")
