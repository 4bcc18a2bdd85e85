"""The dataset tail every source shares: shard, shuffle, map, cache, repeat, batch, prefetch.

A source turns its files or arrays into a dataset of single examples and
hands it to ``finish`` with its own per-example and per-batch functions;
everything about modes, replicas and tf.data tuning happens here, once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import tensorflow as tf
from absl import logging

from common.errors import UsageError
from common.params import CACHE_MEMORY, CACHE_NONE

if TYPE_CHECKING:  # preprocessing needs nothing from here; only the annotation names it
    from input_fns.preprocessing import ImageSpec

# What an input_fn is made for: fit the model (repeat, shuffle, augment), evaluate it (each example once)
# or predict (features only). Not a role (common.params TRAIN/VALIDATION/TEST: which data): a role is read
# in any mode. The values are tf.estimator's ModeKeys, which Estimators and TPUEstimator compare.
FIT = tf.estimator.ModeKeys.TRAIN
EVALUATE = tf.estimator.ModeKeys.EVAL
PREDICT = tf.estimator.ModeKeys.PREDICT
MODES = (FIT, EVALUATE, PREDICT)


# What a corrupt TFRecord shard (tf.errors.DataLossError) does: stop naming the file, or skip its
# unreadable records and say how many files and readable records that left.
ON_CORRUPT_FAIL = "fail"
ON_CORRUPT_SKIP = "skip"
ON_CORRUPT = (ON_CORRUPT_FAIL, ON_CORRUPT_SKIP)

InputFn = Callable[..., tf.data.Dataset]
# (example..., seed) -> example; seed is a [2] int64 tensor for stateless random ops.
ElementFn = Callable[..., tuple]


@dataclasses.dataclass(frozen=True)
class PipelineOptions:
    """How a dataset is read and tuned; the defaults are the tuned pipeline.

    ``cache`` is ``none``, ``memory`` or a file path prefix (local or gs://).
    ``drop_remainder`` drops the last partial batch in every mode (TPUs need
    static shapes); FIT always drops it because it repeats anyway.
    """

    parallel: bool = True
    prefetch: bool = True
    cache: str = CACHE_NONE
    deterministic: bool = True
    drop_remainder: bool = False
    shuffle_buffer: int = 10_000
    seed: int | None = None
    on_corrupt_record: str = ON_CORRUPT_FAIL

    def __post_init__(self) -> None:
        if not self.cache:
            raise UsageError("cache", f"empty; allowed: {CACHE_NONE}, {CACHE_MEMORY} or a file path prefix")
        if self.shuffle_buffer < 1:
            raise UsageError("shuffle_buffer", f"{self.shuffle_buffer}; must be at least 1")
        if self.on_corrupt_record not in ON_CORRUPT:
            raise UsageError("on_corrupt_record", f"'{self.on_corrupt_record}'; allowed: {', '.join(ON_CORRUPT)}")

    @property
    def num_parallel_calls(self) -> int | None:
        return tf.data.AUTOTUNE if self.parallel else None


DEFAULT_OPTIONS = PipelineOptions()


@dataclasses.dataclass(frozen=True)
class InputRequest:
    """What a model asks of an input_fn: the mode and the global batch, and for an image model its input's
    name and image spec (a features model may name its one input, or leave the features keyed by name)."""

    mode: str
    batch_size: int
    input_name: str | None = None
    image_spec: ImageSpec | None = None


def check_mode(mode: str) -> None:
    if mode not in MODES:
        raise UsageError("mode", f"unknown mode '{mode}'; allowed: {', '.join(MODES)}")


def per_replica_batch(global_batch: int, input_context: tf.distribute.InputContext | None) -> int:
    """``global_batch / replicas``, or a usage error when it does not divide."""
    if input_context is None:
        return global_batch
    replicas = input_context.num_replicas_in_sync
    if global_batch % replicas:
        raise UsageError("batch_size", f"global batch {global_batch} does not divide over {replicas} replicas")
    return global_batch // replicas


def shard_by_files(num_files: int, input_context: tf.distribute.InputContext | None) -> bool:
    """Whether each input pipeline can take whole files (enough files for every pipeline)."""
    return input_context is not None and num_files >= input_context.num_input_pipelines


def shard(ds: tf.data.Dataset, input_context: tf.distribute.InputContext | None) -> tf.data.Dataset:
    if input_context is None or input_context.num_input_pipelines == 1:
        return ds
    return ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)


def read_files(
    files: Sequence[str],
    reader: Callable[[tf.Tensor], tf.data.Dataset],
    mode: str,
    options: PipelineOptions,
    input_context: tf.distribute.InputContext | None,
) -> tuple[tf.data.Dataset, bool]:
    """Records of ``files``: sharded and shuffled at file level, read interleaved.

    Returns the dataset and whether it is already sharded (by file); when
    there are fewer files than input pipelines, ``finish`` shards by record.
    """
    by_file = shard_by_files(len(files), input_context)
    ds = tf.data.Dataset.from_tensor_slices(list(files))
    if by_file:
        ds = shard(ds, input_context)
    if mode == FIT and len(files) > 1:
        ds = ds.shuffle(len(files), seed=options.seed, reshuffle_each_iteration=True)
    cycle = min(len(files), 8)
    if options.parallel and cycle > 1:
        ds = ds.interleave(
            reader, cycle_length=cycle, num_parallel_calls=tf.data.AUTOTUNE, deterministic=options.deterministic
        )
    else:
        ds = ds.interleave(reader, cycle_length=cycle)
    return ds, by_file


def compression_of(files: Sequence[str]) -> str | None:
    return "GZIP" if files and all(f.endswith(".gz") for f in files) else None


def _count_records(ds: tf.data.Dataset) -> int:
    return int(ds.batch(4096).reduce(tf.constant(0, tf.int64), lambda n, batch: n + tf.size(batch, tf.int64)))


def check_records(files: Sequence[str], on_corrupt: str, flag: str) -> dict[str, int]:
    """Read every record of ``files`` once (CRCs checked) before training; returns the corrupt ones.

    Corrupt (truncated, bit-flipped) files raise a UsageError naming the first one with
    ``fail``; with ``skip`` they map to the records still readable in them (those before
    the first bad one), which ``skip_corrupt`` readers then yield, and a warning counts them.
    A check before training, rather than at read time, means a run never trains a silently
    partial epoch and never dies with a traceback after hours.
    """
    compression = compression_of(files)
    corrupt: dict[str, int] = {}
    for path in files:
        try:
            _count_records(tf.data.TFRecordDataset(path, compression_type=compression))
        except tf.errors.DataLossError as err:
            reason = err.message.strip().splitlines()[-1][-200:]
            if on_corrupt != ON_CORRUPT_SKIP:
                raise UsageError(
                    flag,
                    f"'{path}' is a corrupt TFRecord file ({reason}); re-create it, remove it, "
                    "or pass --on_corrupt_record=skip",
                ) from None
            kept = tf.data.TFRecordDataset(path, compression_type=compression).ignore_errors()
            corrupt[path] = _count_records(kept)
    if corrupt:
        shown = ", ".join(f"{p} ({n} readable records kept)" for p, n in corrupt.items())
        logging.warning(
            "--on_corrupt_record=skip: skipping the unreadable records of %d of %d files: %s",
            len(corrupt),
            len(files),
            shown,
        )
    return corrupt


def skip_corrupt(ds: tf.data.Dataset, on_corrupt: str) -> tf.data.Dataset:
    """With ``skip``, a reader's dataset that ends at its first corrupt record instead of failing."""
    return ds.ignore_errors(log_warning=True) if on_corrupt == ON_CORRUPT_SKIP else ds


def seeded(element: ElementFn, seed: int | None) -> Callable[[tf.Tensor, tuple], tuple]:
    """``element`` as a function of ``(position, example)`` (from Dataset.enumerate) with a [2] seed.

    The seed is (seed, position in the stream): unique per example across
    epochs (enumerate comes after repeat) and reproducible under a seed;
    without one, each input_fn call draws a base seed.
    """
    base = int(np.random.default_rng().integers(2**31)) if seed is None else seed

    def fn(index: tf.Tensor, example: tuple) -> tuple:
        return element(*example, tf.stack([tf.constant(base, tf.int64), index]))

    return fn


def finish(
    ds: tf.data.Dataset,
    mode: str,
    batch_size: int,
    options: PipelineOptions,
    input_context: tf.distribute.InputContext | None = None,
    *,
    decode: Callable[..., tuple] | None = None,
    element: ElementFn | None = None,
    batch: Callable[..., tuple] | None = None,
    to_features: Callable[..., tuple] | None = None,
    sharded: bool = False,
    element_shuffle: bool = True,
    skip_errors: bool = False,
) -> tf.data.Dataset:
    """The shared tail; see the module docstring for the order and why.

    - ``decode(*example)``: the deterministic, cacheable work (read, decode, resize).
    - ``element(*example, seed)``: per-example random work after the cache (FIT only).
    - ``batch(*batch)``: per-batch work (the backbone's normalisation, vectorised).
    - ``to_features(*batch)``: ``(features_dict, labels)``; PREDICT keeps the features only.
    ``element_shuffle`` False leaves shuffling to the caller's file-level shuffle
    (which already covers every example) unless a cache freezes the order.
    ``skip_errors`` drops examples whose ``decode`` fails instead of ending the run.
    """
    check_mode(mode)
    training = mode == FIT
    per_replica = per_replica_batch(batch_size, input_context)
    if not sharded:
        ds = shard(ds, input_context)
    ds = _decoded(ds, options, decode, skip_errors)
    cached = options.cache != CACHE_NONE
    if cached:
        ds = ds.cache("" if options.cache == CACHE_MEMORY else options.cache)
    if training:
        if element_shuffle or cached:
            ds = ds.shuffle(options.shuffle_buffer, seed=options.seed, reshuffle_each_iteration=True)
        ds = ds.repeat()
    if element is not None:
        ds = _map(ds.enumerate(), seeded(element, options.seed), options)
    ds = ds.batch(per_replica, drop_remainder=training or options.drop_remainder)
    return _batched_tail(ds, mode, options, batch, to_features).with_options(_tf_options(options))


def finish_named(
    ds: tf.data.Dataset,
    mode: str,
    batch_size: int,
    options: PipelineOptions,
    input_context: tf.distribute.InputContext | None,
    input_name: str,
    **stages,
) -> tf.data.Dataset:
    """``finish`` to ``({input_name: x}, y)``: the one input of a Keras model, under its input layer's name."""
    return finish(ds, mode, batch_size, options, input_context, to_features=lambda x, y: ({input_name: x}, y), **stages)


def _decoded(
    ds: tf.data.Dataset, options: PipelineOptions, decode: Callable[..., tuple] | None, skip_errors: bool
) -> tf.data.Dataset:
    if decode is None:
        return ds
    ds = _map(ds, decode, options)
    return ds.ignore_errors(log_warning=True) if skip_errors else ds


def _batched_tail(
    ds: tf.data.Dataset,
    mode: str,
    options: PipelineOptions,
    batch: Callable[..., tuple] | None,
    to_features: Callable[..., tuple] | None,
) -> tf.data.Dataset:
    """After batching: per-batch work, features and labels (features only to PREDICT), prefetch."""
    if batch is not None:
        ds = _map(ds, batch, options)
    if to_features is not None:
        ds = ds.map(to_features)
    if mode == PREDICT:
        ds = ds.map(lambda features, labels: features)
    if options.prefetch:
        ds = ds.prefetch(tf.data.AUTOTUNE)
    return ds


def _map(ds: tf.data.Dataset, fn: Callable, options: PipelineOptions) -> tf.data.Dataset:
    # The per-element work branches only on Python values (static shapes, settings) and uses tf.cond where a
    # tensor decides, so AutoGraph's conversion of it is pure cost: about 0.4 s before the first step.
    fn = tf.autograph.experimental.do_not_convert(fn)
    if not options.parallel:
        return ds.map(fn)
    return ds.map(fn, num_parallel_calls=tf.data.AUTOTUNE, deterministic=options.deterministic)


def _tf_options(options: PipelineOptions) -> tf.data.Options:
    tf_options = tf.data.Options()
    tf_options.deterministic = options.deterministic
    if not options.parallel:
        # The naive pipeline: keep tf.data from parallelising behind our back, and each op
        # (resize, for one) on one thread, so it is the sequential baseline it claims to be.
        tf_options.threading.max_intra_op_parallelism = 1
        tf_options.autotune.enabled = False
        optimization = tf_options.experimental_optimization
        optimization.map_parallelization = False
        optimization.parallel_batch = False
        optimization.inject_prefetch = False
    return tf_options


def estimator_input_fn(
    build: Callable[[str, tf.distribute.InputContext | None], tf.data.Dataset], mode: str
) -> InputFn:
    """An Estimator input_fn (optionally taking an InputContext) over ``build(mode, ctx)``."""
    check_mode(mode)

    def input_fn(input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
        return build(mode, input_context)

    return input_fn
