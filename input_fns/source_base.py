"""The contract every source keeps, and the role helpers sources share.

A source module (``tfds_source``, ``image_folder``, ``tfrecord_source``,
``csv_source``, ``array_source``, ``timeseries_source``) has one entry,
``open(data: DataParams, seed, options) -> (SourceMeta, Factory)``: it reads
and checks its data (every data error is raised there, before training),
describes it in a ``SourceMeta`` and returns the ``Factory`` that makes an
input_fn per role and mode. ``input_fns.sources`` registers the modules by
name and wraps what they open in a ``Source``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

import tensorflow as tf

from common import tasks
from common.errors import UsageError
from common.params import IMAGES, TEST, TRAIN, VALIDATION, DataParams
from input_fns import synthetic
from input_fns.pipeline_ops import InputFn, InputRequest, PipelineOptions
from input_fns.preprocessing import ImageSpec

if TYPE_CHECKING:  # timeseries_source opens a source itself: a runtime import would be a cycle
    from input_fns.timeseries_source import SeriesSpec

FLATTENED = "pixels"


@dataclasses.dataclass(frozen=True)
class SourceMeta:
    """What a model needs to know about its data, read before training starts."""

    name: str
    kind: str  # IMAGES, FEATURES, SERIES or TEXT (common.params)
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
    series: SeriesSpec | None = None  # SERIES only: the window, its columns and statistics
    vocabulary: tuple[str, ...] = ()  # TEXT only: the training role's tokens, most frequent first
    upscale: int = 1  # a super-resolution's label is this many times its input's size (input_fns/image_pairs.py)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def report_role(self) -> str:
        return TEST if TEST in self.split_sizes else VALIDATION


# (role, what the model asks) -> input_fn
Factory = Callable[[str, InputRequest], InputFn]
# What a source module's ``open`` returns.
Opened = tuple[SourceMeta, Factory]


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
            fn = synthetic.input_fn(
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
            fn = self._factory(role, InputRequest(mode, batch_size, input_name if image else None, image))
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


def labels_read(data: DataParams) -> str:
    """What the task of ``data`` reads as the label (common.tasks: classes, values, masks, windows).

    Sources branch on this, never on a task's name: a new task with known labels needs no source edit.
    """
    return tasks.get(data.task).labels


def described(roles, named: dict[str, str | None], data: DataParams) -> dict[str, str]:
    """What each present role read: its own data, or the part carved off the training data."""
    carved = f"the last {data.val_fraction:.0%} of the training data"
    return {role: named.get(role) or carved for role in roles}


def role_files(data: DataParams) -> dict[str, str]:
    """The file patterns of each role for file sources (tfrecord, csv): the roles that name files."""
    named = {TRAIN: data.train_files, VALIDATION: data.validation_files, TEST: data.test_files}
    return {role: pattern for role, pattern in named.items() if pattern}


def class_names(value: str | None, top_label: int, found: tuple[str, ...] = ()) -> tuple[str, ...]:
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
