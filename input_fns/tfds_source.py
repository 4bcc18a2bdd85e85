"""Input functions over TFDS datasets: kestrel's own builders or the TFDS catalog.

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
from common import network
from common.errors import NetworkUnavailableError, UsageError
from common.params import TRAIN as TRAIN_ROLE
from common.params import AugmentParams
from input_fns import csv_source, pipeline_ops
from input_fns.augmentation import NO_AUGMENTATION, image_stages
from input_fns.pipeline_ops import EVAL, PREDICT, TRAIN, InputFn, PipelineOptions, per_replica_batch
from input_fns.preprocessing import ImageSpec

# Builders whose data ships with kestrel's dependencies: preparing them is local.
LOCAL_DATASETS = frozenset({"digits", "diabetes", "shapes"})

__all__ = ["EVAL", "PREDICT", "TRAIN", "DatasetMeta", "dataset_meta", "load_builder", "make_input_fn"]
# Kept for callers of the old private name.
_per_replica_batch = per_replica_batch


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
    train = rows[TRAIN_ROLE]
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


def make_input_fn(
    builder: tfds.core.DatasetBuilder,
    split: str,
    mode: str,
    batch_size: int,
    input_name: str,
    image_spec: ImageSpec,
    seed: int | None = None,
    shuffle_buffer: int = 10_000,
    cache: bool = True,
    options: PipelineOptions | None = None,
    augment: AugmentParams = NO_AUGMENTATION,
) -> InputFn:
    """An Estimator input_fn yielding ``({input_name: images}, labels)`` batches.

    ``batch_size`` is the global batch; under a distribution strategy each
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
    training = mode == TRAIN
    try:
        num_files = len(builder.info.splits[split].file_instructions)
    except (KeyError, ValueError) as err:
        raise UsageError("split", f"{err}; splits of '{builder.info.name}': {sorted(builder.info.splits)}") from None
    if builder.info.splits[split].num_examples == 0:
        raise UsageError("split", f"'{split}' of '{builder.info.name}' is empty")
    stages = image_stages(image_spec, training, augment, cached=options.cache != pipeline_ops.CACHE_NONE)

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
        return stages.finish(ds, mode, batch_size, options, input_context, input_name, sharded=sharded)

    return pipeline_ops.make_input_fn(build, mode)
