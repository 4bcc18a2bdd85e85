"""The hyperparameters of one training run, as one immutable record.

Flags become an ``Hparams`` once (scripts/flag_groups.py); everything after
that reads this record, so a run can also be started from Python or a test.
"""

from __future__ import annotations

import dataclasses

from estimators.conversion import CheckpointPolicy


@dataclasses.dataclass(frozen=True)
class DataParams:
    dataset: str = "digits"
    data_dir: str | None = None
    download: bool = False
    train_split: str = "train"
    eval_split: str = "test"
    image_size: int | None = None  # None keeps the dataset's own size
    shuffle_buffer: int = 10_000


@dataclasses.dataclass(frozen=True)
class ModelParams:
    name: str = "small_cnn"
    learning_rate: float = 1e-3
    dropout: float = 0.25


@dataclasses.dataclass(frozen=True)
class TrainingParams:
    batch_size: int = 64
    train_steps: int = 2000
    eval_steps: int | None = None  # None evaluates the whole eval split
    eval_throttle_secs: int = 60
    seed: int = 42
    progress_every_steps: int = 100


@dataclasses.dataclass(frozen=True)
class DistributionParams:
    """How a run spreads over devices and machines (estimators/distribution.py reads it).

    The cluster itself is not here: it comes from TF_CONFIG (estimators/cluster.py).
    """

    strategy: str = "default"
    num_gpus: int = 0
    all_reduce_alg: str = "auto"  # mirrored: auto/one_device/nccl/hierarchical_copy; multi-worker: auto/ring/nccl
    logical_cpu_devices: int = 0  # split the CPU into this many devices (mirrored without GPUs); 0: leave it
    tpu: str | None = None  # TPU name, grpc://host:port, or "local" on a TPU VM
    tpu_zone: str | None = None
    gcp_project: str | None = None
    use_tpu: bool = True  # False runs the TPUEstimator model_fn on CPU
    iterations_per_loop: int = 100
    num_shards: int | None = None  # TPU cores; None: all
    scale_learning_rate: bool = False  # multiply the learning rate by the replicas in sync
    deterministic_ops: bool = False  # tf.config.experimental.enable_op_determinism (needs the seed)


@dataclasses.dataclass(frozen=True)
class OutputParams:
    model_dir: str = "/tmp/kestrel/model"
    overwrite_model_dir: bool = False
    checkpoints: CheckpointPolicy = CheckpointPolicy()


@dataclasses.dataclass(frozen=True)
class Hparams:
    data: DataParams = DataParams()
    model: ModelParams = ModelParams()
    training: TrainingParams = TrainingParams()
    distribution: DistributionParams = DistributionParams()
    output: OutputParams = OutputParams()

    def replace(self, **sections) -> Hparams:
        return dataclasses.replace(self, **sections)
