"""One entry point from ``DataParams`` to input functions, whatever the source.

    source = make_source(hp.data, seed=hp.training.seed)   # every data error is raised here
    source.meta.class_names, source.meta.image_shape       # what the model needs
    train_fn = source.input_fn("train", TRAIN, batch_size, input_name, image_spec)
    eval_fn = source.input_fn("eval", EVAL, batch_size, input_name, image_spec)

Roles: ``train`` and ``eval`` map to each source's own splits (TFDS
``--train_split``/``--eval_split``, an image folder's training files and
its validation split or ``--val_dir``, ``--train_files``/``--eval_files``);
a TFDS source also takes any TFDS split string as the role.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from common.errors import UsageError
from common.params import SOURCES
from input_fns import csv_source, image_folder, pipeline_ops, synthetic, tfds_source, tfrecord_source
from input_fns.pipeline_ops import InputFn, PipelineOptions
from input_fns.preprocessing import ImageSpec

ROLES = ("train", "eval")
IMAGE = "image"
TABULAR = "tabular"


@dataclasses.dataclass(frozen=True)
class SourceMeta:
    """What a model needs to know about its data, read before training starts."""

    name: str
    kind: str  # IMAGE or TABULAR
    class_names: tuple[str, ...]
    image_shape: tuple[int | None, int | None, int] | None = None  # None for tabular data
    feature_names: tuple[str, ...] = ()  # tabular features (the keys of the features dict)
    split_sizes: dict[str, int | None] = dataclasses.field(default_factory=dict)  # by role
    skipped_files: tuple[str, ...] = ()  # image files left out as undecodable

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


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
    ) -> InputFn:
        """An Estimator input_fn (it takes an optional ``input_context``) for ``role`` in ``mode``.

        Image sources need ``input_name`` and ``image_spec`` (the model's);
        tabular ones yield a dict keyed by feature name, or every numeric
        feature as one tensor under ``input_name`` when it is given.
        """
        if self.meta.kind == IMAGE and (input_name is None or image_spec is None):
            raise UsageError(None, f"'{self.meta.name}' is an image source: pass input_name and image_spec")
        if self._synthetic:
            return synthetic.make_input_fn(
                mode,
                batch_size,
                self.meta.num_classes,
                input_name=input_name,
                image_spec=image_spec if self.meta.kind == IMAGE else None,
                feature_names=() if input_name else self.meta.feature_names,
                num_examples=self.meta.split_sizes.get(role),
                seed=self._seed,
            )
        return self._factory(role, mode, batch_size, input_name, image_spec)


def pipeline_options(data, seed: int | None) -> PipelineOptions:
    """The tf.data settings of ``DataParams``."""
    return PipelineOptions(
        cache=data.cache,
        deterministic=data.deterministic,
        drop_remainder=data.drop_remainder,
        shuffle_buffer=data.shuffle_buffer,
        seed=seed,
        on_corrupt_record=getattr(data, "on_corrupt_record", pipeline_ops.ON_CORRUPT_FAIL),
    )


def make_source(data, seed: int | None = None) -> Source:
    """The source ``data`` (a ``common.params.DataParams``) names, scanned and checked."""
    makers = {"tfds": _tfds, "image_folder": _image_folder, "tfrecord": _tfrecord, "csv": _csv}
    if data.source not in makers:
        raise UsageError("source", f"unknown source '{data.source}'; allowed: {', '.join(SOURCES)}")
    meta, factory = makers[data.source](data, seed, pipeline_options(data, seed))
    return Source(meta, factory, synthetic_data=data.synthetic, seed=seed)


def _check_role(role: str, allowed: tuple[str, ...] = ROLES) -> None:
    if role not in allowed:
        raise UsageError(None, f"unknown role '{role}'; allowed: {', '.join(allowed)}")


def _tfds(data, seed, options):
    builder = tfds_source.load_builder(data.dataset, data.data_dir, data.download)
    info = tfds_source.dataset_meta(builder, data.image_key, data.label_key)
    splits = {"train": data.train_split, "eval": data.eval_split}
    sizes = {}
    for role, split in splits.items():
        try:
            sizes[role] = builder.info.splits[split].num_examples
        except (KeyError, ValueError) as err:
            flag = f"{role}_split"
            raise UsageError(flag, f"{err}; splits of '{info.name}': {sorted(builder.info.splits)}") from None
        if not sizes[role]:
            raise UsageError(f"{role}_split", f"'{split}' of '{info.name}' is empty")
        shards = sorted({i.filename for i in builder.info.splits[split].file_instructions})
        shards = [p if os.path.isabs(p) or "://" in p else os.path.join(builder.data_dir, p) for p in shards]
        # TFDS reads through its own parallel interleave, where a skipped error does not end
        # the stream cleanly: a corrupt prepared shard is always an error naming the file.
        pipeline_ops.check_records(shards, pipeline_ops.ON_CORRUPT_FAIL, f"{role}_split")
    meta = SourceMeta(info.name, IMAGE, info.class_names, info.image_shape, split_sizes=sizes)

    def factory(role, mode, batch_size, input_name, image_spec):
        split = splits.get(role, role)
        return tfds_source.make_input_fn(
            builder, split, mode, batch_size, input_name, image_spec, options=options, augment=data.augment
        )

    return meta, factory


def _image_folder(data, seed, options):
    if not data.image_dir:
        raise UsageError("image_dir", "not set; the image_folder source reads one subfolder per class from it")
    folder = image_folder.load(data.image_dir, data.val_dir, data.val_fraction, seed or 0, data.check_images)
    splits = {"train": folder.train, "eval": folder.validation}
    meta = SourceMeta(
        data.image_dir,
        IMAGE,
        folder.class_names,
        (None, None, 3),
        split_sizes={role: len(files) for role, files in splits.items()},
        skipped_files=folder.skipped,
    )

    def factory(role, mode, batch_size, input_name, image_spec):
        _check_role(role)
        return image_folder.make_input_fn(
            splits[role],
            mode,
            batch_size,
            input_name,
            image_spec,
            options,
            data.augment,
            skip_errors=not data.check_images,
        )

    return meta, factory


def _tfrecord(data, seed, options):
    spec = tfrecord_source.parse_feature_spec(data.feature_spec, data.label_key, data.image_key)
    files = {
        "train": tfrecord_source.resolve_files(data.train_files, "train_files"),
        "eval": tfrecord_source.resolve_files(data.eval_files, "eval_files"),
    }
    sizes = {}
    top_label = -1
    for role, paths in files.items():
        pipeline_ops.check_records(paths, options.on_corrupt_record, f"{role}_files")
        try:
            labels = tfrecord_source.scan_labels(paths, spec, options.on_corrupt_record)
        except tf.errors.OpError as err:
            raise UsageError(
                f"{role}_files", f"not TFRecords of tf.Example with {spec.label_key}: {err.message}"
            ) from None
        if not len(labels):
            raise UsageError(f"{role}_files", f"'{getattr(data, role + '_files')}' holds no records")
        sizes[role] = len(labels)
        top_label = max(top_label, int(np.max(labels)))
    class_names = _class_names(data.class_names) or tuple(str(i) for i in range(top_label + 1))
    if top_label >= len(class_names):
        raise UsageError("class_names", f"{len(class_names)} names but labels go up to {top_label}")
    image_shape = None
    if spec.image_key is not None:
        shape = dict((n, s) for n, _, s in spec.features)[spec.image_key]
        image_shape = (*shape[:2], shape[2] if len(shape) > 2 else 1) if len(shape) >= 2 else (None, None, 3)
    meta = SourceMeta(
        data.train_files,
        IMAGE if spec.image_key else TABULAR,
        class_names,
        image_shape,
        feature_names=() if spec.image_key else spec.feature_names,
        split_sizes=sizes,
    )

    def factory(role, mode, batch_size, input_name, image_spec):
        _check_role(role)
        return tfrecord_source.make_input_fn(
            files[role], spec, mode, batch_size, input_name, image_spec, options, data.augment
        )

    return meta, factory


def _csv(data, seed, options):
    table = csv_source.load(
        data.train_files, data.eval_files, data.csv_separator, data.label_key, data.val_fraction, seed or 0
    )
    meta = SourceMeta(
        data.train_files,
        TABULAR,
        _class_names(data.class_names) or table.class_names,
        feature_names=table.feature_names,
        split_sizes={"train": len(table.train[1]), "eval": len(table.eval[1])},
    )

    def factory(role, mode, batch_size, input_name, image_spec):
        _check_role(role)
        return csv_source.make_input_fn(table, role, mode, batch_size, input_name, options)

    return meta, factory


def _class_names(value: str | None) -> tuple[str, ...]:
    """``--class_names``: comma-separated names, or a text file with one name per line."""
    if not value:
        return ()
    if tf.io.gfile.exists(value):
        with tf.io.gfile.GFile(value) as f:
            return tuple(line.strip() for line in f if line.strip())
    return tuple(name.strip() for name in value.split(",") if name.strip())
