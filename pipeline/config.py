"""The hyperparameters of one training run, as one immutable record.

Flags become an ``Hparams`` once (scripts/flag_groups.py); everything after
that reads this record, so a run can also be started from Python or a test.
"""

from __future__ import annotations

import dataclasses

from estimators.conversion import CheckpointPolicy
from input_fns.augmentation import AugmentParams


@dataclasses.dataclass(frozen=True)
class DataParams:
    dataset: str = "digits"
    data_dir: str | None = None
    download: bool = False
    train_split: str = "train"
    eval_split: str = "test"
    image_size: int | None = None  # None keeps the dataset's own size
    shuffle_buffer: int = 10_000
    # input_fns.sources.make_source: which source, and what each one reads.
    source: str = "tfds"  # tfds | image_folder | tfrecord | csv
    image_dir: str | None = None  # image_folder: one subfolder per class
    val_dir: str | None = None  # image_folder: a separate validation tree instead of a split
    val_fraction: float = 0.2  # image_folder and csv without --val_dir/--eval_files: seeded split
    check_images: bool = True  # decode-check image files before training; skip and count bad ones
    train_files: str | None = None  # tfrecord and csv: comma-separated glob patterns
    eval_files: str | None = None
    feature_spec: str = "image:bytes,label:int64"  # tfrecord: name:type[shape],...
    image_key: str = "image"
    label_key: str = "label"  # the label feature (TFDS, tfrecord) or CSV column
    class_names: str | None = None  # comma-separated, or a file with one name per line
    csv_separator: str = ","
    # The tf.data pipeline (input_fns.pipeline_ops) and training-only augmentation.
    cache: str = "none"  # none | memory | a file path prefix
    deterministic: bool = True
    drop_remainder: bool = False  # in EVAL/PREDICT too (TPU static shapes); TRAIN always drops
    synthetic: bool = False  # random data of the same shapes, no I/O
    on_corrupt_record: str = "fail"  # TFRecord DataLossError: fail (name the file) | skip (and count)
    augment: AugmentParams = AugmentParams()


@dataclasses.dataclass(frozen=True)
class ModelParams:
    name: str = "small_cnn"
    learning_rate: float = 1e-3
    dropout: float = 0.25
    # Transfer models: "imagenet" (fetched by Keras, or its cached copy), "none" or a local weights file.
    weights: str = "none"
    hub_handle: str | None = None  # the "hub" model: a TF-Hub URL or a local SavedModel directory
    trainable_base: bool = False
    l2: float = 0.01
    hidden_units: tuple[int, ...] = (128, 64)  # "dnn" and the canned Estimators
    augment: str = "none"  # the CIFAR CNNs: none, shift, flip_shift
    # Fine-tuning (stage 2): steps > 0 unfreezes from a layer or the top fraction of the base.
    fine_tune_steps: int = 0
    fine_tune_from: str | None = None
    fine_tune_fraction: float | None = None
    fine_tune_lr_factor: float = 0.1


@dataclasses.dataclass(frozen=True)
class TrainingParams:
    batch_size: int = 64
    train_steps: int = 2000
    eval_steps: int | None = None  # None evaluates the whole eval split
    eval_throttle_secs: int = 60
    seed: int = 42
    progress_every_steps: int = 100
    engine: str = "estimator"  # estimator | keras
    optimizer: str = "adam"  # adam | sgd | rmsprop | adagrad
    momentum: float = 0.9
    lr_schedule: str = "constant"  # constant | step | cosine
    lr_decay_steps: int = 1000
    lr_decay_rate: float = 0.5
    warmup_steps: int = 0
    label_smoothing: float = 0.0
    mixed_precision: bool = False
    early_stopping_steps: int | None = None  # None: no early stopping
    early_stopping_metric: str = "accuracy"
    bottleneck_cache: bool = False
    bottleneck_dir: str | None = None  # None: <model_dir>/bottleneck
    report: bool = True  # accuracy, per-class precision/recall and a confusion matrix on the eval split
    # A model_dir whose latest checkpoint initialises the model's weights (retraining's warm start);
    # ignored once model_dir has a checkpoint of its own (a resumed run continues from that).
    warm_start_from: str | None = None


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
class GateParams:
    """The data-validation gate (pipeline/validation) run on the training data before training."""

    validate: bool = False  # scripts/train.py turns it on; pipeline.retraining runs its own gate
    allow_anomalies: bool = False
    running_mode: str = "in_memory"  # Beam DirectRunner mode; multi_processing pays off on large data


@dataclasses.dataclass(frozen=True)
class Hparams:
    data: DataParams = DataParams()
    model: ModelParams = ModelParams()
    training: TrainingParams = TrainingParams()
    distribution: DistributionParams = DistributionParams()
    output: OutputParams = OutputParams()
    gate: GateParams = GateParams()

    def replace(self, **sections) -> Hparams:
        return dataclasses.replace(self, **sections)
