"""Synthetic data with the shapes of a real source and no I/O: separates compute from input in benchmarks.

One random batch is made once and repeated, so the input pipeline costs
nothing; TRAIN repeats forever, EVAL and PREDICT stop after ``num_examples``.
"""

from __future__ import annotations

import math

import tensorflow as tf

from input_fns import pipeline_ops
from input_fns.pipeline_ops import InputFn
from input_fns.preprocessing import PREPROCESSORS, ImageSpec


def make_input_fn(
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
        ds = tf.data.Dataset.from_tensors((features, labels))
        if mode == pipeline_ops.TRAIN or num_examples is None:
            ds = ds.repeat()
        else:
            ds = ds.repeat(math.ceil(num_examples / batch_size))
        if mode == pipeline_ops.PREDICT:
            ds = ds.map(lambda features, labels: features)
        return ds

    return pipeline_ops.make_input_fn(build, mode)
