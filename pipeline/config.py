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
    strategy: str = "default"
    num_gpus: int = 0


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
