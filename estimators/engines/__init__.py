"""What a training engine is given and what it returns: one interface, two engines.

``estimator_engine`` (model_to_estimator or a canned Estimator, train_and_evaluate,
exporters) and ``keras_engine`` (Model.fit / evaluate) both take a ``Job`` and
return a ``Result``; the run flow (pipeline/train.py) does not care which ran.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from typing import Protocol, TextIO

import numpy as np
import tensorflow as tf

from common.errors import UsageError
from common.params import EARLY_STOPPING_METRICS, ENGINES, CheckpointPolicy
from estimators.distribute.cluster import Cluster
from estimators.models.spec import ModelSpec

InputFn = Callable[..., tf.data.Dataset]


@dataclasses.dataclass(frozen=True)
class EarlyStopping:
    """Stop when ``metric`` on the eval split has not improved for ``max_steps_without_improvement``."""

    metric: str = "accuracy"
    max_steps_without_improvement: int = 1000
    min_steps: int = 0

    def __post_init__(self) -> None:
        if self.metric not in EARLY_STOPPING_METRICS:
            raise UsageError(
                "early_stopping_metric",
                f"unknown metric '{self.metric}'; allowed: {', '.join(EARLY_STOPPING_METRICS)}",
            )

    @property
    def higher_is_better(self) -> bool:
        return self.metric == "accuracy"


@dataclasses.dataclass(frozen=True)
class Serving:
    """What the export takes: encoded images (``image`` set) or named float features."""

    class_names: tuple[str, ...]
    input_name: str = "image"
    image: object | None = None  # input_fns.preprocessing.ImageSpec
    features: tuple[tuple[str, int], ...] = ()


@dataclasses.dataclass(frozen=True)
class Job:
    """One training stage: a model (Keras builder, or a canned Estimator by name) and its data."""

    model_name: str
    spec: ModelSpec
    build: Callable[[], tf.keras.Model] | None  # None: a canned Estimator (estimator engine only)
    train_input_fn: InputFn
    eval_input_fn: InputFn
    model_dir: str
    max_steps: int
    batch_size: int
    checkpoints: CheckpointPolicy = CheckpointPolicy()
    strategy: tf.distribute.Strategy | None = None
    eval_steps: int | None = None
    eval_throttle_secs: int = 60
    eval_start_delay_secs: int = 0
    progress_every_steps: int = 100
    seed: int | None = None
    early_stopping: EarlyStopping | None = None
    warm_start_from: str | None = None  # a model_dir whose latest checkpoint initialises the model's weights
    serving: Serving | None = None  # None: no export (a bottleneck head, say)
    stream: TextIO = sys.stdout
    cluster: Cluster | None = None  # from TF_CONFIG (estimators/cluster.py); None: one process


@dataclasses.dataclass
class Result:
    metrics: dict[str, float]
    export_path: str | None
    examples_per_sec: float | None
    train_seconds: float
    # Predicted class probabilities for an input_fn's batches (labels ignored).
    predict: Callable[[InputFn], np.ndarray]
    # The trained weights by checkpoint key (layer/variable), for moving a head into a full model.
    weights: Callable[[], dict[str, np.ndarray]]


class Engine(Protocol):
    name: str

    def run(self, job: Job) -> Result: ...


def get_engine(name: str) -> Engine:
    # Imported here: each engine pulls in its own stack only when chosen.
    if name == "estimator":
        from estimators.engines.estimator import EstimatorEngine

        return EstimatorEngine()
    if name == "keras":
        from estimators.engines.keras import KerasEngine

        return KerasEngine()
    raise UsageError("engine", f"unknown engine '{name}'; allowed: {', '.join(ENGINES)}")


def set_mixed_precision(enabled: bool, on_tpu: bool = False) -> str:
    """Set Keras's global dtype policy before models are built; returns the policy name.

    float16 with loss scaling where there is a GPU, bfloat16 on TPUs and CPUs
    (which have no float16 speed-up, and bfloat16 needs no loss scaling).
    """
    if not enabled:
        policy = "float32"
    elif tf.config.list_physical_devices("GPU") and not on_tpu:
        policy = "mixed_float16"
    else:
        policy = "mixed_bfloat16"
    tf.keras.mixed_precision.set_global_policy(policy)
    return policy
