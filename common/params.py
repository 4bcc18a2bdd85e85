"""The hyperparameters of one training run, as one immutable record.

Flags become an ``Hparams`` once (scripts/flags/, one getter per group);
everything after that reads this record, so a run can also be started from
Python or a test. This module imports no TensorFlow: the flag layer and the
launchers read the allowed values here, and the modules that act on a value
import its list from here too (one place for each choice).
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

from common.errors import UsageError
from common.tasks import CLASSIFICATION, EARLY_STOPPING_METRICS  # noqa: F401  (allowed values live here)

SOURCES = ("tfds", "image_folder", "tfrecord", "csv", "arrays", "timeseries", "text_corpus", "text_folder")
ON_CORRUPT_RECORD = ("fail", "skip")
# --cache: these two words, or a file path prefix.
CACHE_NONE, CACHE_MEMORY = "none", "memory"
ENGINES = ("estimator", "keras", "tpu_estimator")
OPTIMIZERS = ("adam", "sgd", "rmsprop", "adagrad")
SCHEDULES = ("constant", "step", "cosine")
CNN_AUGMENTATIONS = ("none", "shift", "flip_shift")
STRATEGIES = ("default", "one_device", "mirrored", "multi_worker_mirrored", "parameter_server", "tpu")
ALL_REDUCE_ALGS = ("auto", "one_device", "nccl", "hierarchical_copy", "ring")
# The three roles of the data: fit on train, choose the model on validation, report on test.
TRAIN, VALIDATION, TEST = "train", "validation", "test"
ROLES = (TRAIN, VALIDATION, TEST)
# What a source yields and a model reads: one image tensor, named numeric features, or a window of a
# time series ([steps, columns], input_fns/timeseries_source.py).
IMAGES, FEATURES, SERIES = "images", "features", "series"
# Raw strings, one per example (input_fns/text_source.py): the model tokenises them itself.
TEXT = "text"
# A text as character ids, the next character at every position the label (input_fns/text_corpus.py).
CHARACTERS = "characters"
# Bad records (unusable image files, malformed CSV lines, unparseable records) tolerated, as a
# fraction of everything read: the trainer's --check_images and the validation gate both refuse
# data above it (exit 3). 1 bad file in 20 is let through, skipped and named.
MAX_BAD_RECORD_FRACTION = 0.05


def too_many_bad(bad: int, read: int, max_fraction: float) -> bool:
    """The one rule of --max_bad_record_fraction: refused when bad / read (every record read, bad
    ones included) is above ``max_fraction``; exactly at it is let through.

    Compared as fractions of the decimal the user wrote, not as floats: 2 of 40 at 0.05 is
    exactly 5% in the gate and in the trainer alike, never a rounding error's worth above it.
    """
    return bad > 0 and Fraction(bad, read) > Fraction(repr(max_fraction))


def _check_range(flag: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise UsageError(flag, f"{value}; allowed: {low} to {high}")


@dataclasses.dataclass(frozen=True)
class AugmentParams:
    """Which augmentations run in TRAIN, and how strong. All off by default.

    rotation_degrees: angles drawn from [-d, d]; zoom: crops a square-ish
    window whose side is 1/(1+zoom) to 1 of the image, then resizes it up;
    hue: delta in [-h, h] (of a full turn); saturation and contrast: factors
    in [1-x, 1+x]; brightness: delta in [-b, b] of the full 0-255 range.
    """

    horizontal_flip: bool = False
    vertical_flip: bool = False
    rot90: bool = False
    rotation_degrees: float = 0.0
    zoom: float = 0.0
    hue: float = 0.0
    saturation: float = 0.0
    brightness: float = 0.0
    contrast: float = 0.0

    def __post_init__(self) -> None:
        _check_range("augment_rotation", self.rotation_degrees, 0.0, 180.0)
        _check_range("augment_zoom", self.zoom, 0.0, 4.0)
        _check_range("augment_hue", self.hue, 0.0, 0.5)
        _check_range("augment_saturation", self.saturation, 0.0, 1.0)
        _check_range("augment_brightness", self.brightness, 0.0, 1.0)
        _check_range("augment_contrast", self.contrast, 0.0, 1.0)

    @property
    def geometric(self) -> bool:
        return self.horizontal_flip or self.vertical_flip or self.rot90 or self.rotation_degrees > 0 or self.zoom > 0

    @property
    def color(self) -> bool:
        return self.hue > 0 or self.saturation > 0 or self.brightness > 0 or self.contrast > 0

    @property
    def enabled(self) -> bool:
        return self.geometric or self.color


@dataclasses.dataclass(frozen=True)
class CheckpointPolicy:
    """How often an engine writes checkpoints, summaries and step-rate logs."""

    save_checkpoints_steps: int = 500
    save_summary_steps: int = 100
    keep_checkpoint_max: int = 5
    log_step_count_steps: int = 100


@dataclasses.dataclass(frozen=True)
class DataParams:
    dataset: str = "digits"
    # What the labels are (common.tasks): class ids, or a number to predict (a numeric target column).
    task: str = CLASSIFICATION
    data_dir: str | None = None
    download: bool = False
    # The three roles (TFDS split strings with slicing, such as train[:80%]). No validation
    # split: the last val_fraction of train_split is carved off for it. No test split
    # (test_split=""): the report is on the validation split and says so.
    train_split: str = "train"
    validation_split: str | None = None
    test_split: str = "test"
    image_size: int | None = None  # None keeps the dataset's own size
    shuffle_buffer: int = 10_000
    # input_fns.sources.make_source: which source, and what each one reads.
    source: str = "tfds"  # one of SOURCES
    image_dir: str | None = None  # image_folder: one subfolder per class (segmentation: the images, flat)
    mask_dir: str | None = None  # image_folder, --task=segmentation: <stem>.png, a class id per pixel, per image
    text_dir: str | None = None  # text_folder: one subfolder of .txt files per class; None: the embedded corpus
    val_dir: str | None = None  # image_folder: a separate validation tree instead of a split
    test_dir: str | None = None  # image_folder: a test tree for the report
    val_fraction: float = 0.2  # carved off the training data when no validation data is named
    check_images: bool = True  # decode-check image files before training; skip and count bad ones
    max_bad_record_fraction: float = MAX_BAD_RECORD_FRACTION  # above it the data is refused (exit 3)
    train_files: str | None = None  # tfrecord and csv: comma-separated glob patterns
    validation_files: str | None = None
    test_files: str | None = None
    array_file: str | None = None  # arrays: an .npz with x_train, y_train[, x_val, y_val, x_test, y_test]
    feature_spec: str = "image:bytes,label:int64"  # tfrecord: name:type[shape],...
    image_key: str = "image"
    label_key: str = "label"  # the label feature (TFDS, tfrecord) or CSV column
    text_key: str | None = None  # text_classification: the TFDS Text feature (default: its first) or CSV column
    class_names: str | None = None  # comma-separated, or a file with one name per line
    csv_separator: str = ","
    # timeseries: a CSV with a time column, read in order (input_fns/timeseries_source.py); without
    # train_files, the embedded generated climate series. Defaults are Deep Learning with Python's
    # (ch. 10, Jena at 10-minute steps): 120 samples every 6th row = 5 days, the target 144 rows = 24 h
    # after the window's last row, the first 50% of the rows to train, the next 25% to validate.
    time_key: str = "Date Time"
    target_key: str = "T (degC)"
    window_steps: int = 120
    sampling_rate: int = 6
    horizon_steps: int = 144
    series_split: tuple[float, float, float] = (0.5, 0.25, 0.25)
    # text_corpus: characters per example (the targets are the same characters shifted by one).
    sequence_length: int = 100
    # Image restoration (input_fns/image_pairs.py): the input is a corrupted copy of the clean image.
    scale: int = 2  # super_resolution: the bicubic downgrade's factor (2 or 4)
    noise_stddev: float = 0.2  # denoising: the Gaussian noise's deviation, pixels in [0, 1]
    # The tf.data pipeline (input_fns.pipeline_ops) and training-only augmentation.
    cache: str = CACHE_NONE  # CACHE_NONE | CACHE_MEMORY | a file path prefix
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
    # The forecasting LSTM and GRU: dropout on the recurrent state (the book's regularised models use 0.25).
    recurrent_dropout: float = 0.0
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
    eval_steps: int | None = None  # None evaluates the whole validation split
    eval_throttle_secs: int = 60
    seed: int = 42
    progress_every_steps: int = 100
    engine: str = "estimator"  # one of ENGINES; --strategy=tpu: keras unless --engine is given
    optimizer: str = "adam"  # one of OPTIMIZERS
    momentum: float = 0.9
    lr_schedule: str = "constant"  # one of SCHEDULES
    lr_decay_steps: int = 1000
    lr_decay_rate: float = 0.5
    warmup_steps: int = 0
    label_smoothing: float = 0.0
    mixed_precision: bool = False
    early_stopping_steps: int | None = None  # None: no early stopping
    early_stopping_metric: str | None = None  # None: the task's own (accuracy; mae for regression)
    bottleneck_cache: bool = False
    bottleneck_dir: str | None = None  # None: <model_dir>/bottleneck
    report: bool = True  # accuracy, per-class precision/recall and a confusion matrix on the test split
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
    # A copy of the final SavedModel, saved_model.pb at its root: Vertex AI's AIP_MODEL_DIR.
    publish_dir: str | None = None
    # A copy of the run's TensorBoard event files, run folders kept: Vertex AI's AIP_TENSORBOARD_LOG_DIR.
    tensorboard_publish_dir: str | None = None
    # The final model as TFLite (common.names.tflite_files: float, dynamic-range, labels); "": none.
    tflite_output_file: str = ""


@dataclasses.dataclass(frozen=True)
class GateParams:
    """The data-validation gate (pipeline/validation) run on the training data before training."""

    validate: bool = False  # scripts/train.py turns it on; pipeline.retraining runs its own gate
    allow_anomalies: bool = False
    running_mode: str = "auto"  # Beam DirectRunner mode; auto: in_memory on small data, multi_processing on large
    cache_dir: str = ""  # verdicts remembered by data fingerprint (pipeline/gate_cache.py); "": validate every time


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
