"""Synthetic data with the shapes of a real source and no I/O: separates compute from input in benchmarks.

One random batch is made once and repeated, so the input pipeline costs
nothing; FIT repeats forever, EVALUATE and PREDICT yield exactly ``num_examples``
(the last batch partial, as a real source's), split over the input pipelines.
"""

from __future__ import annotations

import tensorflow as tf

from input_fns import pipeline_ops
from input_fns.pipeline_ops import InputFn
from input_fns.preprocessing import PREPROCESSORS, ImageSpec


def input_fn(
    mode: str,
    batch_size: int,
    num_classes: int,  # 0: regression targets
    input_name: str | None = None,
    image_spec: ImageSpec | None = None,
    feature_names: tuple[str, ...] = (),
    num_examples: int | None = None,
    seed: int | None = 0,
) -> InputFn:
    """Batches like the real source's: ``{input_name: images}`` or ``{feature: [batch, 1]}``, labels."""

    def build(mode: str, input_context: tf.distribute.InputContext | None) -> tf.data.Dataset:
        per_replica = pipeline_ops.per_replica_batch(batch_size, input_context)
        key = [seed or 0, 0]
        if image_spec is not None:
            pixels = tf.random.stateless_uniform((per_replica, *image_spec.shape), key, 0, 255)
            features = {input_name: PREPROCESSORS[image_spec.preprocessing](pixels)}
        elif input_name is not None and not feature_names:
            raise ValueError("tabular synthetic data needs feature_names")
        else:
            features = {
                name: tf.random.stateless_normal((per_replica, 1), [key[0], i + 1])
                for i, name in enumerate(feature_names)
            }
        if num_classes:
            labels = tf.random.stateless_uniform((per_replica,), key, 0, num_classes, dtype=tf.int64)
        else:  # regression: a number to predict
            labels = tf.random.stateless_normal((per_replica,), key)
        if mode == pipeline_ops.FIT or num_examples is None:
            ds = tf.data.Dataset.from_tensors((features, labels)).repeat()
        else:
            ds = _exactly((features, labels), per_replica, _pipeline_share(num_examples, input_context))
        if mode == pipeline_ops.PREDICT:
            ds = ds.map(lambda features, labels: features)
        return ds

    return pipeline_ops.estimator_input_fn(build, mode)


def _exactly(batch: tuple, per_replica: int, count: int) -> tf.data.Dataset:
    """``count`` examples: whole copies of ``batch``, then its first rows for the remainder.

    The report checks it predicted every example of its role, no more: a last
    batch padded to full size would add predictions for examples that do not exist.
    """
    whole, rest = divmod(count, per_replica)
    ds = tf.data.Dataset.from_tensors(batch).repeat(whole)
    if rest:
        ds = ds.concatenate(tf.data.Dataset.from_tensors(tf.nest.map_structure(lambda t: t[:rest], batch)))
    return ds


def _pipeline_share(num_examples: int, input_context: tf.distribute.InputContext | None) -> int:
    """This input pipeline's part of ``num_examples`` (each worker reads its own part)."""
    if input_context is None:
        return num_examples
    pipelines, index = input_context.num_input_pipelines, input_context.input_pipeline_id
    return num_examples // pipelines + (1 if index < num_examples % pipelines else 0)
