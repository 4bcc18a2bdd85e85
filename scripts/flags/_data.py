"""Data flags: where the data comes from, its three roles, the tf.data pipeline and augmentation."""

from __future__ import annotations

import os

from absl import flags

from common.params import CACHE_MEMORY, CACHE_NONE, ON_CORRUPT_RECORD, SOURCES, AugmentParams, DataParams
from common.tasks import TASKS
from scripts.flags._gate import define_max_bad_record_fraction_flag
from scripts.flags.core import FLAGS, define_flags, record_from_flags

_D = DataParams()
_A = AugmentParams()
# AugmentParams field -> flag (the flags keep the short names users type).
_AUGMENT_FLAGS = {
    "horizontal_flip": "augment_hflip",
    "vertical_flip": "augment_vflip",
    "rot90": "augment_rot90",
    "rotation_degrees": "augment_rotation",
    "zoom": "augment_zoom",
    "hue": "augment_hue",
    "saturation": "augment_saturation",
    "brightness": "augment_brightness",
    "contrast": "augment_contrast",
}


# Flag -> help, a table a kind: none of these has a validator, so defining them by kind leaves the order in
# which validators run (the first failing one is the error line) as it was.
_STRINGS = {
    "dataset": "tfds: a dataset name[:version]: digits (shipped) or a TFDS catalog name.",
    "data_dir": "tfds: data directory (local or gs://); default: TFDS's own.",
    "train_split": "tfds: the split to train on, with slicing (train[:80%]).",
    "validation_split": "tfds: the split that chooses the model; default: the last --val_fraction of --train_split.",
    "test_split": "tfds: the split the report is on; '' for none (report on validation).",
    "image_dir": "image_folder: root with one subfolder of images per class.",
    "mask_dir": "image_folder, --task=segmentation: a <image stem>.png class-id mask per image.",
    "text_dir": "text_folder: root with one subfolder of .txt files per class; default: embedded corpus.",
    "val_dir": "image_folder: validation tree with the same class subfolders.",
    "test_dir": "image_folder: test tree with the same class subfolders.",
    "train_files": "tfrecord/csv: training files, comma-separated globs.",
    "validation_files": "tfrecord/csv: validation files (required for tfrecord).",
    "test_files": "tfrecord/csv: test files for the report.",
    "array_file": "arrays: an .npz with x_train, y_train[, x_val, y_val, x_test, y_test].",
    "feature_spec": "tfrecord: the tf.Example features, name:type[shape],...",
    "image_key": "The image feature (tfds, tfrecord).",
    "label_key": "The label feature (tfds, tfrecord) or CSV column.",
    "text_key": "text_classification: the TFDS Text feature (default: its first) or CSV text column.",
    "class_names": "Class names: comma-separated, or a file with one a line.",
    "csv_separator": "csv: field separator (';' for the wine-quality CSV).",
    "time_key": "timeseries: the time column (Jena's dd.mm.yyyy hh:mm:ss, or ISO 8601).",
    "target_key": "timeseries: the column to forecast.",
}
_SWITCHES = {
    "download": "tfds: allow fetching a dataset that is not prepared in --data_dir.",
    "check_images": "image_folder: decode-check every file first; skip and name bad ones (refused above --max_bad_record_fraction).",
    "deterministic": "Keep element order under parallel maps (reproducible).",
    "drop_remainder": "Drop partial batches in evaluation and prediction too.",
    "synthetic_data": "Random data of the source's shapes, no I/O (benchmarks).",
}
_SERIES_LENGTHS = {  # each at least 1
    "window_steps": "timeseries: samples per window (book: 120, 5 days hourly).",
    "sampling_rate": "timeseries: a window takes every n-th row (book: 6).",
    "horizon_steps": "timeseries: the target is this many rows after the window's last (book: 144, 24 h).",
}
_RENAMED = {"synthetic": "synthetic_data"}


def define_data_flags() -> None:
    d = _D
    flags.DEFINE_enum("source", d.source, list(SOURCES), "Where the data comes from.")
    flags.DEFINE_enum(
        "task", d.task, list(TASKS), "What the labels are: class ids, or (regression) a number to predict."
    )
    define_flags(__name__, flags.DEFINE_string, d, _STRINGS)
    define_flags(__name__, flags.DEFINE_boolean, d, _SWITCHES, _RENAMED)
    flags.DEFINE_float(
        "val_fraction",
        d.val_fraction,
        "Fraction of the training data carved off (seeded) when no validation data is named.",
        lower_bound=0.0,
        upper_bound=1.0,
    )
    flags.register_validator("val_fraction", lambda v: 0.0 < v < 1.0, "must be between 0 and 1, exclusive")
    define_max_bad_record_fraction_flag()
    flags.DEFINE_integer(
        "image_size",
        d.image_size,
        "Resize images to this square size; default: the dataset's.",
        lower_bound=1,
        upper_bound=4096,
    )
    define_flags(__name__, flags.DEFINE_integer, d, _SERIES_LENGTHS, lower_bound=1)
    flags.DEFINE_list(
        "series_split",
        [f"{f:g}" for f in d.series_split],
        "timeseries: train,validation,test fractions of the rows, in time order (book: 0.5,0.25,0.25).",
    )
    flags.register_validator("series_split", _fractions_ok, "allowed: three numbers, e.g. 0.5,0.25,0.25")
    flags.DEFINE_integer(
        "sequence_length", d.sequence_length, "text_corpus: characters per example (language model).", lower_bound=2
    )
    _define_restoration_flags()
    _define_pipeline_flags()
    _define_augment_flags()


def _define_restoration_flags() -> None:
    flags.DEFINE_enum(
        "scale", str(_D.scale), ["2", "4"], "super_resolution: the bicubic downgrade's factor (lecture 12: x2, x4)."
    )
    flags.DEFINE_float(
        "noise_stddev", _D.noise_stddev, "denoising: the Gaussian noise's deviation (pixels in [0, 1]).", lower_bound=0
    )


def _fractions_ok(values: list[str]) -> bool:
    try:
        return len([float(v) for v in values]) == 3
    except ValueError:
        return False


def _define_pipeline_flags() -> None:
    flags.DEFINE_integer("shuffle_buffer", _D.shuffle_buffer, "Shuffle buffer, in examples.", lower_bound=1)
    flags.DEFINE_string("cache", _D.cache, "Cache decoded examples: none, memory, or a file path prefix.")
    flags.register_validator("cache", _cache_ok, _CACHE_RULE)
    flags.DEFINE_enum(
        "on_corrupt_record",
        _D.on_corrupt_record,
        list(ON_CORRUPT_RECORD),
        "tfrecord: fail naming a corrupt file, or skip its unreadable records and count them.",
    )


# tf.data appends shard and lock suffixes to the prefix; a file name stays under the usual 255 bytes.
_MAX_CACHE_NAME = 200
_CACHE_RULE = (
    f"allowed: none, memory, or a file path prefix in an existing directory, name under {_MAX_CACHE_NAME} bytes"
)


def _cache_ok(value: str) -> bool:
    if value in (CACHE_NONE, CACHE_MEMORY) or "://" in value:
        return True
    folder, name = os.path.split(os.path.abspath(value))
    return bool(name) and len(name.encode()) < _MAX_CACHE_NAME and os.path.isdir(folder)


_AUGMENT_SWITCHES = {
    "augment_hflip": "Training: random horizontal flips.",
    "augment_vflip": "Training: random vertical flips.",
    "augment_rot90": "Training: random multiples of 90 degrees (square images).",
}
# AugmentParams checks their ranges when the record is made.
_AUGMENT_AMOUNTS = {
    "augment_rotation": "Training: rotation up to +-this many degrees (0-180).",
    "augment_zoom": "Training: zoom-crop, crop side from 1/(1+zoom) to 1 (0-4).",
    "augment_hue": "Training: hue delta up to +-this (0-0.5).",
    "augment_saturation": "Training: saturation factor in [1-x, 1+x] (0-1).",
    "augment_brightness": "Training: brightness delta up to +-x of 255 (0-1).",
    "augment_contrast": "Training: contrast factor in [1-x, 1+x] (0-1).",
}


def _define_augment_flags() -> None:
    define_flags(__name__, flags.DEFINE_boolean, _A, _AUGMENT_SWITCHES, _AUGMENT_FLAGS)
    define_flags(__name__, flags.DEFINE_float, _A, _AUGMENT_AMOUNTS, _AUGMENT_FLAGS)


def augment_params() -> AugmentParams:
    """The augmentation flags; AugmentParams checks the ranges (one line, exit 2)."""
    return record_from_flags(AugmentParams, _AUGMENT_FLAGS)


def data_params() -> DataParams:
    return record_from_flags(
        DataParams,
        _RENAMED,
        augment=augment_params(),
        validation_split=FLAGS.validation_split or None,
        series_split=tuple(float(v) for v in FLAGS.series_split),
        scale=int(FLAGS.scale),
    )
