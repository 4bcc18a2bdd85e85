"""The only way from ``DataParams`` to input functions, whatever the source.

    source = make_source(hp.data, seed=hp.training.seed)   # every data error is raised here
    source.meta.kind, source.meta.class_names               # what the model must fit
    train_fn = source.input_fn(TRAIN, pipeline_ops.TRAIN, batch_size, input_name, image_spec)

Three roles: ``train`` fits the model, ``validation`` chooses it (the best
export, early stopping, fine-tuning), ``test`` reports it. A source without
named validation data carves ``val_fraction`` off its training data; one
without test data has no test role, and the report says it is on validation.
Each source module (tfds_source, image_folder, tfrecord_source, csv_source,
array_source) reads; this module checks and names the roles.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from common.errors import UsageError
from common.params import FEATURES, IMAGES, SERIES, SOURCES, TEST, TRAIN, VALIDATION, DataParams
from common.tasks import FORECASTING, REGRESSION, SEGMENTATION
from input_fns import (
    array_source,
    csv_source,
    image_folder,
    mask_folder,
    pipeline_ops,
    segmentation,
    synthetic,
    tfds_source,
    tfrecord_source,
    timeseries_source,
)
from input_fns.augmentation import NO_AUGMENTATION
from input_fns.pipeline_ops import InputFn, PipelineOptions
from input_fns.preprocessing import ImageSpec

FLATTENED = "pixels"
# The sources whose labels may be a number to predict (a numeric column, a numeric TFDS feature).
REGRESSION_SOURCES = ("csv", "tfds")  # an image source read by a features model: its flattened pixels


@dataclasses.dataclass(frozen=True)
class SourceMeta:
    """What a model needs to know about its data, read before training starts."""

    name: str
    kind: str  # IMAGES, FEATURES or SERIES (common.params)
    class_names: tuple[str, ...]
    split_sizes: dict[str, int]  # by role; a role that is absent has no entry
    split_names: dict[str, str]  # by role: what it read (a TFDS split, a folder, files), for reports
    image_shape: tuple[int | None, int | None, int] | None = None  # IMAGES only
    features: tuple[tuple[str, int], ...] = ()  # FEATURES only: (name, width), the keys of the features dict
    train_files: tuple[str, ...] = ()  # what the training role reads, for the validation gate
    gate_format: str | None = None  # how the gate reads train_files (pipeline.validation.config.FORMATS)
    # A sliced TFDS split (--train_split='train[:50%]'): the slice, and the (file, skip, take) of each
    # of train_files that it reads, so the gate validates what trains and not the whole split.
    train_slice: str = ""
    train_ranges: tuple[tuple[str, int, int], ...] = ()
    skipped_files: tuple[str, ...] = ()  # image files left out as undecodable
    # FEATURES read into memory (csv, tabular tfds): (feature, mean, std) of the training rows, which the
    # input_fns standardise with and the export takes raw values through.
    scaling: tuple[tuple[str, float, float], ...] = ()
    series: timeseries_source.SeriesSpec | None = None  # SERIES only: the window, its columns and statistics

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def report_role(self) -> str:
        return TEST if TEST in self.split_sizes else VALIDATION


# (role, mode, batch_size, input_name, image_spec) -> input_fn
Factory = Callable[[str, str, int, "str | None", "ImageSpec | None"], InputFn]


class Source:
    """A checked data source: its ``meta`` and an ``input_fn`` per role and mode."""

    def __init__(self, meta: SourceMeta, factory: Factory, synthetic_data: bool = False, seed: int | None = None):
        self.meta = meta
        self._factory = factory
        self._synthetic = synthetic_data
        self._seed = seed

    def input_fn(
        self,
        role: str,
        mode: str,
        batch_size: int,
        input_name: str | None = None,
        image_spec: ImageSpec | None = None,
        flatten: bool = False,
    ) -> InputFn:
        """An Estimator input_fn (it takes an optional ``input_context``) for ``role`` in ``mode``.

        Image sources need ``input_name`` and ``image_spec`` (the model's); with
        ``flatten`` their pixels come as one feature, FLATTENED. Features sources
        yield a dict keyed by feature name.
        """
        if role not in self.meta.split_sizes:
            raise UsageError(None, f"'{self.meta.name}' has no {role} data; roles: {', '.join(self.meta.split_sizes)}")
        image = image_spec if self.meta.kind == IMAGES else None
        if self.meta.kind == IMAGES and (input_name is None or image_spec is None):
            raise UsageError(None, f"'{self.meta.name}' is an image source: pass input_name and image_spec")
        if self._synthetic:
            fn = synthetic.make_input_fn(
                mode,
                batch_size,
                self.meta.num_classes,
                input_name=input_name if image else None,
                image_spec=image,
                feature_names=tuple(name for name, _ in self.meta.features),
                num_examples=self.meta.split_sizes[role],
                seed=self._seed,
            )
        else:
            fn = self._factory(role, mode, batch_size, input_name if image else None, image)
        return _flattened(fn, input_name, image_spec) if flatten and image else fn


def _flattened(input_fn: InputFn, input_name: str, image: ImageSpec) -> InputFn:
    width = image.height * image.width * image.channels

    def fn(input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
        def flatten(features, *labels):  # PREDICT datasets carry no labels
            # A static width: the DNN's first Dense layer and the feature column need it.
            flat = {FLATTENED: tf.reshape(features[input_name], [-1, width])}
            return (flat, *labels) if labels else flat

        return input_fn(input_context).map(flatten)

    return fn


def pipeline_options(data: DataParams, seed: int | None) -> PipelineOptions:
    """The tf.data settings of ``DataParams``."""
    return PipelineOptions(
        cache=data.cache,
        deterministic=data.deterministic,
        drop_remainder=data.drop_remainder,
        shuffle_buffer=data.shuffle_buffer,
        seed=seed,
        on_corrupt_record=data.on_corrupt_record,
    )


def make_source(data: DataParams, seed: int | None = None) -> Source:
    """The source ``data`` names, scanned and checked."""
    mask_folders = data.source == "image_folder" and data.task == SEGMENTATION  # masks hold ids: names are given
    if data.class_names and data.source in ("tfds", "image_folder") and not mask_folders:
        where = "its DatasetInfo" if data.source == "tfds" else "its class folders"
        raise UsageError(
            "class_names", f"--source={data.source} names its classes ({where}); for tfrecord, csv, arrays"
        )
    makers = {
        "tfds": _tfds,
        "image_folder": _image_folder,
        "tfrecord": _tfrecord,
        "csv": _csv,
        "arrays": _arrays,
        "timeseries": _timeseries,
    }
    if data.source not in makers:
        raise UsageError("source", f"unknown source '{data.source}'; allowed: {', '.join(SOURCES)}")
    if data.task == REGRESSION and data.source not in REGRESSION_SOURCES:
        raise UsageError(
            "task", f"--source={data.source} reads class labels; regression reads {' or '.join(REGRESSION_SOURCES)}"
        )
    if data.task == SEGMENTATION and data.source not in ("tfds", "image_folder"):
        raise UsageError(
            "task",
            f"--source={data.source} has no masks; segmentation reads a TFDS dataset with "
            f"'{segmentation.MASK_KEY}' or --source=image_folder with --mask_dir",
        )
    if (data.task == FORECASTING) != (data.source == "timeseries"):
        raise UsageError(
            "task" if data.task == FORECASTING else "source",
            "--task=forecasting reads --source=timeseries, and --source=timeseries is read for --task=forecasting",
        )
    if data.synthetic and data.source == "timeseries":
        raise UsageError("synthetic_data", "not for --source=timeseries (its embedded series needs no download)")
    meta, factory = makers[data.source](data, seed, pipeline_options(data, seed))
    return Source(meta, factory, synthetic_data=data.synthetic, seed=seed)


def tfds_splits(data: DataParams) -> dict[str, str]:
    """The TFDS split string of each role; validation carved off the end of train_split if not named."""
    splits = {TRAIN: data.train_split, VALIDATION: data.validation_split}
    if not data.validation_split:
        if any(c in data.train_split for c in "[+"):
            raise UsageError(
                "validation_split",
                f"not set, and --train_split='{data.train_split}' is sliced, so no validation can be carved "
                "off it; name one, e.g. --train_split='train[:80%]' --validation_split='train[80%:]'",
            )
        cut = 100 - round(100 * data.val_fraction)
        if not 0 < cut < 100:
            raise UsageError("val_fraction", f"{data.val_fraction} leaves no training or no validation examples")
        splits = {TRAIN: f"{data.train_split}[:{cut}%]", VALIDATION: f"{data.train_split}[{cut}%:]"}
    if data.test_split:
        splits[TEST] = data.test_split
    return splits


def _tfds(data: DataParams, seed, options):
    if data.on_corrupt_record != pipeline_ops.ON_CORRUPT_FAIL:
        # TFDS reads through its own parallel interleave, where a skipped error does not end the stream.
        raise UsageError(
            "on_corrupt_record",
            f"'{data.on_corrupt_record}' applies to --source=tfrecord; a TFDS dataset's prepared shards are "
            "checked up front and a corrupt one is an error (re-prepare it, or read its shards with "
            "--source=tfrecord --on_corrupt_record=skip)",
        )
    builder = tfds_source.load_builder(data.dataset, data.data_dir, data.download)
    splits = tfds_splits(data)
    flags = {TRAIN: "train_split", VALIDATION: "validation_split" if data.validation_split else "train_split"}
    flags[TEST] = "test_split"
    sizes = {role: _tfds_split_size(builder, split, flags[role]) for role, split in splits.items()}
    train_files = (os.path.join(str(builder.data_dir), f"{builder.name}-{data.train_split.split('[')[0]}.tfrecord*"),)
    if data.task == SEGMENTATION:
        return _tfds_segmentation(data, builder, splits, sizes, train_files, options)
    if tfds_source.is_tabular(builder, data.image_key):
        return _tfds_tabular(data, builder, splits, sizes, train_files, options)
    if data.task == REGRESSION:
        raise UsageError("task", f"'{builder.info.name}' is an image dataset; --task=regression reads numeric features")
    info = tfds_source.dataset_meta(builder, data.image_key, data.label_key)
    gate_slice = _tfds_slice(builder, data.train_split)
    if gate_slice:
        train_files = tuple(dict.fromkeys(path for path, _, _ in gate_slice["train_ranges"]))
    meta = SourceMeta(
        info.name,
        IMAGES,
        info.class_names,
        sizes,
        splits,
        image_shape=info.image_shape,
        train_files=train_files,
        gate_format="tfrecord",
        **gate_slice,
    )

    def factory(role, mode, batch_size, input_name, image_spec):
        return tfds_source.make_input_fn(
            builder, splits[role], mode, batch_size, input_name, image_spec, options=options, augment=data.augment
        )

    return meta, factory


def _tfds_slice(builder, split: str) -> dict:
    """For a sliced split (``train[:50%]``, ``train[10:20]+train[50:]``): the SourceMeta fields that
    let the gate read only its records (TFDS's own file instructions); {} for a whole split."""
    if not any(c in split for c in "[+"):
        return {}
    instructions = builder.info.splits[split].file_instructions
    ranges = tuple(
        (os.path.join(str(builder.data_dir), os.path.basename(str(i.filename))), int(i.skip), int(i.take))
        for i in instructions
    )
    return {"train_slice": split, "train_ranges": ranges}


def _tfds_segmentation(data: DataParams, builder, splits: dict[str, str], sizes, train_files, options):
    segmentation.check_dataset(builder)
    segmentation.check_augment(data.augment)
    meta = SourceMeta(
        builder.info.name,
        IMAGES,
        segmentation.mask_classes(builder),
        sizes,
        splits,
        image_shape=tuple(builder.info.features["image"].shape),
        train_files=train_files,
        gate_format="tfrecord",
    )

    def factory(role, mode, batch_size, input_name, image_spec):
        return segmentation.tfds_input_fn(builder, splits[role], mode, batch_size, input_name, image_spec, options)

    return meta, factory


def _mask_folder(data: DataParams, seed, options):
    segmentation.check_augment(data.augment)
    names = _class_names(data.class_names, 0) if data.class_names else None
    folder = mask_folder.load(data.image_dir, data.mask_dir, data.test_dir, data.val_fraction, seed or 0, names)
    meta = SourceMeta(
        data.image_dir,
        IMAGES,
        folder.class_names,
        {role: len(pairs) for role, pairs in folder.splits.items()},
        _described(folder.splits, {TRAIN: data.image_dir, TEST: data.test_dir}, data),
        image_shape=(None, None, 3),
    )

    def factory(role, mode, batch_size, input_name, image_spec):
        return mask_folder.make_input_fn(folder.splits[role], mode, batch_size, input_name, image_spec, options)

    return meta, factory


def _tfds_tabular(data: DataParams, builder, splits: dict[str, str], sizes, train_files, options):
    table = tfds_source.tabular_table(builder, splits, data.label_key, data.task == REGRESSION)
    meta = SourceMeta(
        builder.info.name,
        FEATURES,
        table.class_names,
        sizes,
        splits,
        features=tuple((name, 1) for name in table.feature_names),
        train_files=train_files,
        gate_format="tfrecord",
        scaling=table.scaling,
    )

    def factory(role, mode, batch_size, input_name, image_spec):
        return csv_source.make_input_fn(table, role, mode, batch_size, None, options)

    return meta, factory


def _tfds_split_size(builder, split: str, flag: str) -> int:
    name = builder.info.name
    try:
        size = builder.info.splits[split].num_examples
    except (KeyError, ValueError) as err:
        raise UsageError(flag, f"{err}; splits of '{name}': {sorted(builder.info.splits)}") from None
    if not size:
        raise UsageError(flag, f"'{split}' of '{name}' is empty")
    shards = sorted({i.filename for i in builder.info.splits[split].file_instructions})
    shards = [p if os.path.isabs(p) or "://" in p else os.path.join(builder.data_dir, p) for p in shards]
    pipeline_ops.check_records(shards, pipeline_ops.ON_CORRUPT_FAIL, flag)
    return size


def _image_folder(data: DataParams, seed, options):
    if not data.image_dir:
        raise UsageError("image_dir", "not set; the image_folder source reads one subfolder per class from it")
    if data.task == SEGMENTATION:
        return _mask_folder(data, seed, options)
    folder = image_folder.load(
        data.image_dir,
        data.val_dir,
        data.val_fraction,
        seed or 0,
        data.check_images,
        test_dir=data.test_dir,
        max_bad_fraction=data.max_bad_record_fraction,
    )
    meta = SourceMeta(
        data.image_dir,
        IMAGES,
        folder.class_names,
        {role: len(files) for role, files in folder.splits.items()},
        _described(folder.splits, {TRAIN: data.image_dir, VALIDATION: data.val_dir, TEST: data.test_dir}, data),
        image_shape=(None, None, 3),
        train_files=(data.image_dir,),
        gate_format="images",
        skipped_files=folder.skipped,
    )

    def factory(role, mode, batch_size, input_name, image_spec):
        return image_folder.make_input_fn(
            folder.splits[role],
            mode,
            batch_size,
            input_name,
            image_spec,
            options,
            data.augment,
            skip_errors=not data.check_images,
        )

    return meta, factory


def _role_files(data: DataParams) -> dict[str, str]:
    """The file patterns of each role for tfrecord and csv sources; validation files are required."""
    named = {TRAIN: data.train_files, VALIDATION: data.validation_files, TEST: data.test_files}
    return {role: pattern for role, pattern in named.items() if pattern}


def _tfrecord(data: DataParams, seed, options):
    spec = tfrecord_source.parse_feature_spec(data.feature_spec, data.label_key, data.image_key)
    patterns = _role_files(data)
    if VALIDATION not in patterns:
        raise UsageError("validation_files", "required with --source=tfrecord (the data that chooses the model)")
    files = {role: tfrecord_source.resolve_files(p, f"{role}_files") for role, p in patterns.items()}
    sizes, top_label = {}, -1
    for role, paths in files.items():
        labels = _scan_tfrecord_labels(paths, spec, options.on_corrupt_record, role, patterns[role])
        sizes[role] = len(labels)
        top_label = max(top_label, int(np.max(labels)))
    class_names = _class_names(data.class_names, top_label)
    meta = SourceMeta(
        data.train_files,
        IMAGES if spec.image_key else FEATURES,
        class_names,
        sizes,
        patterns,
        image_shape=_tfrecord_image_shape(spec),
        features=() if spec.image_key else tuple((n, _width(s)) for n, _, s in spec.features if n != spec.label_key),
        train_files=tuple(files[TRAIN]),
        gate_format="tfrecord",
    )

    def factory(role, mode, batch_size, input_name, image_spec):
        return tfrecord_source.make_input_fn(
            files[role], spec, mode, batch_size, input_name, image_spec, options, data.augment
        )

    return meta, factory


def _scan_tfrecord_labels(paths, spec, on_corrupt: str, role: str, pattern: str) -> np.ndarray:
    pipeline_ops.check_records(paths, on_corrupt, f"{role}_files")
    try:
        labels = tfrecord_source.scan_labels(paths, spec, on_corrupt)
    except tf.errors.OpError as err:
        raise UsageError(f"{role}_files", f"not TFRecords of tf.Example with {spec.label_key}: {err.message}") from None
    if not len(labels):
        raise UsageError(f"{role}_files", f"'{pattern}' holds no records")
    return labels


def _tfrecord_image_shape(spec) -> tuple | None:
    if spec.image_key is None:
        return None
    shape = dict((n, s) for n, _, s in spec.features)[spec.image_key]
    return (*shape[:2], shape[2] if len(shape) > 2 else 1) if len(shape) >= 2 else (None, None, 3)


def _width(shape) -> int:
    return int(np.prod(shape)) if shape else 1


def _csv(data: DataParams, seed, options):
    if not data.train_files:
        raise UsageError("train_files", "not set; the csv source reads its training rows from it")
    table = csv_source.load(
        data.train_files,
        data.validation_files,
        data.test_files,
        data.csv_separator,
        data.label_key,
        data.val_fraction,
        seed or 0,
        regression=data.task == REGRESSION,
    )
    text = [name for name in table.feature_names if name not in table.numeric]
    if text:
        raise UsageError("train_files", f"columns {text} are not numeric; kestrel's tabular models read numbers")
    meta = SourceMeta(
        data.train_files,
        FEATURES,
        table.class_names
        if data.task == REGRESSION
        else _class_names(data.class_names, len(table.class_names) - 1, table.class_names),
        {role: len(labels) for role, (_, labels) in table.splits.items()},
        _described(table.splits, _role_files(data), data),
        features=tuple((name, 1) for name in table.feature_names),
        train_files=tuple(p for p in data.train_files.split(",") if p),
        gate_format="csv",
        scaling=table.scaling,
    )

    def factory(role, mode, batch_size, input_name, image_spec):
        return csv_source.make_input_fn(table, role, mode, batch_size, None, options)

    return meta, factory


def _timeseries(data: DataParams, seed, options):
    series = timeseries_source.load(data)
    spec = series.spec
    first = series.first_lines
    meta = SourceMeta(
        series.path,
        SERIES,
        (),
        {role: series.windows(role) for role in series.parts},
        {
            role: f"lines {first[role]}-{first[role] + len(values) - 1} of {series.path}"
            for role, (values, _) in series.parts.items()
        },
        features=((timeseries_source.WINDOW_INPUT, spec.window_steps * len(spec.columns)),),
        train_files=(series.path,),
        gate_format="csv",
        series=spec,
    )

    def factory(role, mode, batch_size, input_name, image_spec):
        return timeseries_source.make_input_fn(series, role, mode, batch_size, options)

    return meta, factory


def _arrays(data: DataParams, seed, options):
    splits, carved = array_source.load_npz(data.array_file, data.val_fraction, seed or 0)
    x_train, y_train = splits[TRAIN]
    images = x_train.dtype == np.uint8 and x_train.ndim in (3, 4)
    if not images and x_train.ndim != 2:
        raise UsageError("array_file", f"x_train {x_train.dtype} {x_train.shape}: want uint8 images or 2-D features")
    top = max(int(np.max(labels)) for _, labels in splits.values())
    meta = SourceMeta(
        data.array_file,
        IMAGES if images else FEATURES,
        _class_names(data.class_names, top),
        {role: len(labels) for role, (_, labels) in splits.items()},
        _described(
            splits,
            {
                r: f"{data.array_file} {x}"
                for r, (x, _) in array_source.NPZ_KEYS.items()
                if not (carved and r == VALIDATION)
            },
            data,
        ),
        image_shape=(*x_train.shape[1:3], x_train.shape[3] if x_train.ndim == 4 else 1) if images else None,
        features=() if images else ((array_source.FEATURES_KEY, int(x_train.shape[1])),),
    )

    def factory(role, mode, batch_size, input_name, image_spec):
        x, y = splits[role]
        features = x if images else {array_source.FEATURES_KEY: x.astype(np.float32)}
        return array_source.make_input_fn(
            features, y, mode, batch_size, input_name, image_spec, options, data.augment if images else NO_AUGMENTATION
        )

    return meta, factory


def _described(roles, named: dict[str, str | None], data: DataParams) -> dict[str, str]:
    """What each present role read: its own data, or the part carved off the training data."""
    carved = f"the last {data.val_fraction:.0%} of the training data"
    return {role: named.get(role) or carved for role in roles}


def _class_names(value: str | None, top_label: int, found: tuple[str, ...] = ()) -> tuple[str, ...]:
    """``--class_names`` (comma-separated, or a text file with one name per line), else what the data says."""
    names = found or tuple(str(i) for i in range(top_label + 1))
    if value:
        if tf.io.gfile.exists(value):
            with tf.io.gfile.GFile(value) as f:
                names = tuple(line.strip() for line in f if line.strip())
        else:
            names = tuple(name.strip() for name in value.split(",") if name.strip())
    if top_label >= len(names):
        raise UsageError("class_names", f"{len(names)} names but labels go up to {top_label}")
    return names
