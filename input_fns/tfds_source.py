"""The ``tfds`` source: TFDS datasets, kestrel's own builders or the TFDS catalog.

Images with class labels, a tabular dataset (diabetes: numeric features, a class
or a value), or images with a per-pixel mask (``segmentation``), or images with
their objects' boxes (``detection``).

Nothing here reaches the network unless the caller passes ``download=True``:
TFDS's GCS lookups stay off, and a dataset that is not prepared in
``data_dir`` is an error that says how to prepare it.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

import input_fns.datasets  # noqa: F401  (registers kestrel's builders)
from common import network, tasks
from common.errors import NetworkUnavailableError, UsageError
from common.params import FEATURES, IMAGES, TEST, TRAIN, VALIDATION, AugmentParams, DataParams
from common.tasks import BOXES, CLEAN_IMAGES, MASKS, VALUES
from input_fns import csv_source, detection, image_pairs, pipeline_ops, segmentation, text_tfds
from input_fns.augmentation import NO_AUGMENTATION, image_stages
from input_fns.pipeline_ops import FIT, InputFn, InputRequest, PipelineOptions
from input_fns.source_base import Opened, SourceMeta, labels_read

# Builders whose data ships with kestrel's dependencies: preparing them is local.
LOCAL_DATASETS = frozenset({"digits", "diabetes", "shapes"})


@dataclasses.dataclass(frozen=True)
class DatasetMeta:
    """What a model needs to know about a dataset, read from its DatasetInfo."""

    name: str
    image_shape: tuple[int | None, int | None, int]
    class_names: tuple[str, ...]
    split_sizes: dict[str, int]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def load_builder(name: str, data_dir: str | None, download: bool = False) -> tfds.core.DatasetBuilder:
    """The prepared builder for ``name`` (``name`` or ``name:version``)."""
    if data_dir and "://" not in data_dir:
        # TFDS names shard files relative to data_dir; absolute, they read the same from any cwd.
        data_dir = os.path.abspath(data_dir)
    try:
        builder = tfds.builder(name, data_dir=data_dir, try_gcs=False)
    except tfds.core.registered.DatasetNotFoundError:
        raise UsageError(
            "dataset",
            f"unknown dataset '{name}'; allowed: {', '.join(sorted(LOCAL_DATASETS))} or any TFDS catalog name",
        ) from None
    if builder.is_prepared():
        return builder
    base_name = name.split(":")[0]
    if base_name not in LOCAL_DATASETS and not download:
        raise UsageError(
            "dataset",
            f"'{name}' is not prepared in {builder.data_dir_root}; pass --download to fetch it "
            "or point --data_dir at a directory where it is prepared",
        )
    if base_name not in LOCAL_DATASETS:
        _require_hosts(builder, name)
    try:
        builder.download_and_prepare(download_config=tfds.download.DownloadConfig(try_download_gcs=False))
    except (OSError, ConnectionError) as err:
        if base_name in LOCAL_DATASETS:
            # Preparing a shipped dataset needs no network: what failed is writing to --data_dir.
            reason = getattr(err, "strerror", None) or str(err).splitlines()[0]
            raise UsageError("data_dir", f"cannot prepare '{name}' in {builder.data_dir_root}: {reason}") from None
        raise NetworkUnavailableError(
            f"could not fetch dataset '{name}' ({type(err).__name__}); "
            f"prepare it where there is network and point --data_dir at that copy"
        ) from None
    return builder


def _require_hosts(builder: tfds.core.DatasetBuilder, name: str) -> None:
    """TFDS retries each URL with backoff for minutes; without network, say so at once."""
    failed = network.unreachable_hosts(builder.url_infos or {})
    if failed:
        raise NetworkUnavailableError(
            f"could not fetch dataset '{name}': cannot reach {', '.join(failed)}; "
            "prepare it where there is network and point --data_dir at that copy"
        )


def dataset_meta(builder: tfds.core.DatasetBuilder, image_key: str = "image", label_key: str = "label") -> DatasetMeta:
    info = builder.info
    features = info.features
    if image_key not in features or label_key not in features:
        raise UsageError(
            "dataset",
            f"'{info.name}' has features {sorted(features.keys())}; an image dataset needs "
            f"'{image_key}' and '{label_key}'",
        )
    return DatasetMeta(
        name=info.name,
        image_shape=tuple(features[image_key].shape),
        class_names=tuple(features[label_key].names),
        split_sizes={name: split.num_examples for name, split in info.splits.items()},
    )


def is_tabular(builder: tfds.core.DatasetBuilder, image_key: str = "image") -> bool:
    """A dataset of named numeric features (diabetes) rather than images."""
    return image_key not in builder.info.features


def tabular_table(
    builder: tfds.core.DatasetBuilder, splits: dict[str, str], label_key: str, regression: bool
) -> csv_source.CsvData:
    """Every role of a tabular dataset read into memory (it is small), standardised on the training rows.

    Labels are the ClassLabel's ids for classification, the numeric target's values for regression.
    """
    features = builder.info.features
    label_key = _label_key(builder, label_key)
    label = features[label_key]
    if regression and isinstance(label, tfds.features.ClassLabel):
        raise UsageError("task", f"'{label_key}' of '{builder.info.name}' is a class label; use --task=classification")
    if not regression and not isinstance(label, tfds.features.ClassLabel):
        raise UsageError(
            "task", f"'{label_key}' of '{builder.info.name}' is a number, not a class; use --task=regression"
        )
    columns = [name for name in features if name != label_key]
    rows = {role: _read_columns(builder, split) for role, split in splits.items()}
    train = rows[TRAIN]
    mean = {c: float(np.mean(train[c])) for c in columns}
    std = {c: float(np.std(train[c])) or 1.0 for c in columns}
    standardizer = csv_source.Standardizer(mean, std)
    label_dtype = np.float32 if regression else np.int64
    return csv_source.CsvData(
        feature_names=tuple(columns),
        numeric=tuple(columns),
        class_names=() if regression else tuple(label.names),
        splits={
            role: (
                {c: standardizer.apply(c, data[c].astype(np.float64)).reshape(-1, 1) for c in columns},
                data[label_key].astype(label_dtype),
            )
            for role, data in rows.items()
        },
        standardizer=standardizer,
    )


def _label_key(builder: tfds.core.DatasetBuilder, label_key: str) -> str:
    """``label_key``, or where the dataset has no such feature, the target its supervised_keys name."""
    features, supervised = builder.info.features, builder.info.supervised_keys
    if label_key in features:
        return label_key
    if label_key == "label" and supervised and isinstance(supervised[1], str):
        return supervised[1]
    raise UsageError("label_key", f"no feature '{label_key}' in '{builder.info.name}'; features: {sorted(features)}")


def _read_columns(builder: tfds.core.DatasetBuilder, split: str) -> dict[str, np.ndarray]:
    batches = list(tfds.as_numpy(builder.as_dataset(split=split, batch_size=4096, shuffle_files=False)))
    return {name: np.concatenate([b[name] for b in batches]) for name in batches[0]}


def input_fn(
    builder: tfds.core.DatasetBuilder,
    split: str,
    request: InputRequest,
    options: PipelineOptions | None = None,
    augment: AugmentParams = NO_AUGMENTATION,
    *,
    seed: int | None = None,
    shuffle_buffer: int = 10_000,
    cache: bool = True,
) -> InputFn:
    """An Estimator input_fn yielding ``({input_name: images}, labels)`` batches (an image request).

    ``request.batch_size`` is the global batch; under a distribution strategy each
    replica's input pipeline gets its shard and ``batch_size / replicas``.
    ``options`` (the shared pipeline settings) wins over ``seed``,
    ``shuffle_buffer`` and ``cache`` when given.
    """
    if options is None:
        options = PipelineOptions(
            seed=seed,
            shuffle_buffer=shuffle_buffer,
            cache=pipeline_ops.CACHE_MEMORY if cache else pipeline_ops.CACHE_NONE,
        )
    training = request.mode == FIT
    try:
        num_files = len(builder.info.splits[split].file_instructions)
    except (KeyError, ValueError) as err:
        raise UsageError("split", f"{err}; splits of '{builder.info.name}': {sorted(builder.info.splits)}") from None
    if builder.info.splits[split].num_examples == 0:
        raise UsageError("split", f"'{split}' of '{builder.info.name}' is empty")
    stages = image_stages(request.image_spec, training, augment, cached=options.cache != pipeline_ops.CACHE_NONE)

    def build(mode: str, input_context: tf.distribute.InputContext | None) -> tf.data.Dataset:
        by_file = pipeline_ops.shard_by_files(num_files, input_context)
        read_config = tfds.ReadConfig(
            shuffle_seed=options.seed,
            input_context=input_context if by_file else None,
            try_autocache=False,
            num_parallel_calls_for_decode=options.num_parallel_calls,
            num_parallel_calls_for_interleave_files=options.num_parallel_calls,
        )
        ds = builder.as_dataset(split=split, shuffle_files=training, read_config=read_config, as_supervised=True)
        # With fewer files than input pipelines, finish() shards by example instead.
        sharded = by_file or input_context is None
        return stages.finish(ds, mode, request.batch_size, options, input_context, request.input_name, sharded=sharded)

    return pipeline_ops.estimator_input_fn(build, request.mode)


def open(data: DataParams, seed: int | None, options: PipelineOptions) -> Opened:
    """A prepared TFDS dataset's roles: its images and class labels, its table, or its images and masks."""
    if data.on_corrupt_record != pipeline_ops.ON_CORRUPT_FAIL:
        # TFDS reads through its own parallel interleave, where a skipped error does not end the stream.
        raise UsageError(
            "on_corrupt_record",
            f"'{data.on_corrupt_record}' applies to --source=tfrecord; a TFDS dataset's prepared shards are "
            "checked up front and a corrupt one is an error (re-prepare it, or read its shards with "
            "--source=tfrecord --on_corrupt_record=skip)",
        )
    builder = load_builder(data.dataset, data.data_dir, data.download)
    splits = role_splits(data)
    flags = {TRAIN: "train_split", VALIDATION: "validation_split" if data.validation_split else "train_split"}
    flags[TEST] = "test_split"
    sizes = {role: _split_size(builder, split, flags[role]) for role, split in splits.items()}
    train_files = (os.path.join(str(builder.data_dir), f"{builder.name}-{data.train_split.split('[')[0]}.tfrecord*"),)
    # A sliced --train_split: the gate reads the slice's records only, whatever the dataset holds.
    gate_slice = _gate_slice(builder, data.train_split)
    if gate_slice:
        train_files = tuple(dict.fromkeys(path for path, _, _ in gate_slice["train_ranges"]))
    if tasks.get(data.task).reads_text:
        return text_tfds.open_tfds(data, builder, splits, train_files, options, gate_slice)
    labels = labels_read(data)
    if labels == MASKS:
        return segmentation.open_tfds(data, builder, splits, sizes, train_files, options, gate_slice)
    if labels == BOXES:
        return detection.open_tfds(data, builder, splits, sizes, train_files, options, gate_slice)
    if labels == CLEAN_IMAGES:
        return image_pairs.open_tfds(data, builder, splits, sizes, train_files, options, gate_slice)
    if is_tabular(builder, data.image_key):
        texts = text_tfds.text_features(builder)
        if texts:  # a text dataset read as a table would divide strings by their deviation
            raise UsageError(
                "task",
                f"'{builder.info.name}' holds text ({', '.join(texts)}); --task=text_classification reads it",
            )
        return _open_table(data, builder, splits, sizes, train_files, options, gate_slice)
    if labels == VALUES:
        raise UsageError("task", f"'{builder.info.name}' is an image dataset; --task=regression reads numeric features")
    return _open_images(data, builder, splits, sizes, train_files, options, gate_slice)


def role_splits(data: DataParams) -> dict[str, str]:
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


def _open_images(data: DataParams, builder, splits: dict[str, str], sizes, train_files, options, gate_slice) -> Opened:
    info = dataset_meta(builder, data.image_key, data.label_key)
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

    def factory(role: str, request: InputRequest) -> InputFn:
        return input_fn(builder, splits[role], request, options=options, augment=data.augment)

    return meta, factory


def _gate_slice(builder, split: str) -> dict:
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


def _open_table(data: DataParams, builder, splits: dict[str, str], sizes, train_files, options, gate_slice) -> Opened:
    table = tabular_table(builder, splits, data.label_key, labels_read(data) == VALUES)
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
        **gate_slice,
    )

    def factory(role: str, request: InputRequest) -> InputFn:
        return csv_source.input_fn(table, role, request, options)

    return meta, factory


def _split_size(builder, split: str, flag: str) -> int:
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
