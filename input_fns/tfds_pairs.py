"""A prepared TFDS dataset read as ``(input, target)`` pairs: one input_fn per role, from that role's split.

Detection (image, objects), segmentation (image, mask) and the restoration tasks (an image made into a pair,
or a dataset's own lr/hr pair) differ only in what they take from an example and how they decode it for the
model's ImageSpec; the reading, sharding and batching are the same, written here once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import tensorflow as tf

from input_fns import pipeline_ops
from input_fns.pipeline_ops import InputFn, InputRequest, PipelineOptions
from input_fns.preprocessing import ImageSpec
from input_fns.source_base import Factory

if TYPE_CHECKING:  # TFDS loads only when a split is read: the gate's mask readers import this module
    import tensorflow_datasets as tfds

Select = Callable[[tf.data.Dataset], tf.data.Dataset]
Decode = Callable[[tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]


def pairs_factory(
    builder: tfds.core.DatasetBuilder,
    splits: dict[str, str],
    options: PipelineOptions,
    select: Select,
    decoder: Callable[[ImageSpec], Decode],
    shuffle_files: bool = True,
) -> Factory:
    """The input_fns of ``({input_name: x}, y)`` batches from the TFDS split of each role: ``select`` turns the
    split's examples into ``(x, y)`` elements, ``decoder(image_spec)`` prepares one for the model.
    ``shuffle_files=False`` keeps the split's order in training too (where an element's position seeds it)."""

    def factory(role: str, request: InputRequest) -> InputFn:
        split, decode = splits[role], decoder(request.image_spec)

        def build(mode: str, input_context: tf.distribute.InputContext | None) -> tf.data.Dataset:
            import tensorflow_datasets as tfds

            read_config = tfds.ReadConfig(shuffle_seed=options.seed, try_autocache=False)
            shuffled = shuffle_files and mode == pipeline_ops.FIT
            ds = select(builder.as_dataset(split=split, shuffle_files=shuffled, read_config=read_config))
            return pipeline_ops.finish_named(
                ds, mode, request.batch_size, options, input_context, request.input_name, decode=decode
            )

        return pipeline_ops.estimator_input_fn(build, request.mode)

    return factory
