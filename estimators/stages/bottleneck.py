"""Bottleneck cache: a frozen base's features computed once, saved to a file, and the head trained on them.

With the base frozen (and no augmentation), every epoch pushes the same
images through the same base to the same features; caching them makes each
epoch after the first a pass over a small head only. The head has the same
layer names as the full model's, so its trained weights move into the full
model for export.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
import weakref
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from common.errors import UsageError
from common.progress import ProgressLine
from common.writes import write_whole
from estimators.models.hub_model import HUB_LAYER_NAME
from estimators.models.spec import ModelSpec
from estimators.models.transfer import HEAD_DROPOUT_NAME, POOL_NAME
from estimators.tasks.classification import classifier_head, compile_classifier

FEATURES_NAME = "bottleneck_features"


def feature_layer_name(model: tf.keras.Model) -> str:
    names = {layer.name for layer in model.layers}
    for candidate in (POOL_NAME, HUB_LAYER_NAME):
        if candidate in names:
            return candidate
    raise UsageError("bottleneck_cache", f"'{model.name}' has no frozen base to cache features of")


def feature_extractor(model: tf.keras.Model) -> tf.keras.Model:
    if any(layer.trainable and layer.weights for layer in model.layers if layer.name not in _HEAD):
        raise UsageError("bottleneck_cache", "the base is trainable; the cache needs a frozen base")
    return tf.keras.Model(model.inputs, model.get_layer(feature_layer_name(model)).output, name="feature_extractor")


_HEAD = frozenset({POOL_NAME, HEAD_DROPOUT_NAME, "probabilities"})


def head_model(feature_width: int, spec: ModelSpec) -> tf.keras.Model:
    """The full model's head alone: dropout and the L2 softmax layer, with the same names."""
    inputs = tf.keras.Input(shape=(feature_width,), name=FEATURES_NAME)
    x = tf.keras.layers.Dropout(spec.dropout, name=HEAD_DROPOUT_NAME)(inputs)
    return compile_classifier(tf.keras.Model(inputs, classifier_head(x, spec, l2=spec.l2), name="head"), spec)


def cache_key(**parts) -> str:
    """A short digest of everything the features depend on (model, weights, image spec, data, split)."""
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


def cached_features(
    extractor: tf.keras.Model, input_fn, input_name: str, path: str, progress: ProgressLine | None = None
) -> tuple[np.ndarray, np.ndarray, float, bool]:
    """(features, labels, seconds, hit): loaded from ``path`` or computed with one pass and saved there.

    ``progress`` (counting examples) gets a line as the pass goes: the pass is the long part of a first run.
    """
    started = time.perf_counter()
    if tf.io.gfile.exists(path):
        # Through memory: np.load seeks, which a GFile (gs://) does not do well.
        with tf.io.gfile.GFile(path, "rb") as f:
            # allow_pickle=False: a cache file is data; a pickled object array in it would run code.
            data = np.load(io.BytesIO(f.read()), allow_pickle=False)
        features, labels = data["features"], data["labels"]
        return features, labels, time.perf_counter() - started, True
    chunks, label_chunks = [], []
    done = 0
    forward = compiled_forward(extractor)
    for features, labels in input_fn():
        chunks.append(forward(features[input_name]).numpy().astype(np.float32))
        label_chunks.append(labels.numpy())
        done += len(label_chunks[-1])
        if progress is not None:
            progress.update(done)
    features, labels = np.concatenate(chunks), np.concatenate(label_chunks)
    tf.io.gfile.makedirs(os.path.dirname(path))
    buffer = io.BytesIO()
    np.savez(buffer, features=features, labels=labels)
    write_whole(path, buffer.getvalue())
    return features, labels, time.perf_counter() - started, False


# One traced pass per extractor: the train and eval splits (and a benchmark's repeats) share it.
_FORWARDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def compiled_forward(extractor: tf.keras.Model) -> Callable[[tf.Tensor], tf.Tensor]:
    """The extractor's inference pass as one traced graph, any batch size (the last batch is smaller).

    An eager Keras call runs the model op by op, with Python dispatch per layer and no Grappler
    fusion of each convolution with its bias and ReLU. Measured: the cache's first epoch (VGG16 64x64,
    143 images) took 5.6 s eager and 3.0 s traced; at 160x160, where the convolutions dominate, a
    batch of 32 took 2.7-2.8 s eager and 2.3-2.7 s traced (benchmarks/compute.py: kestrel's extraction
    at 0.99x a bare tf.function loop).
    """
    forward = _FORWARDS.get(extractor)
    if forward is None:
        spec = tf.TensorSpec([None, *extractor.input_shape[1:]], extractor.inputs[0].dtype)
        model = weakref.ref(extractor)  # a strong reference in the value would keep the key alive for ever
        forward = tf.function(lambda images: model()(images, training=False), input_signature=[spec])
        _FORWARDS[extractor] = forward
    return forward


def arrays_input_fn(features: np.ndarray, labels: np.ndarray, batch_size: int, training: bool, seed: int | None = None):
    """An input_fn over cached features, keyed as the head's input."""

    def input_fn(input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
        ds = tf.data.Dataset.from_tensor_slices(({FEATURES_NAME: features}, labels.astype(np.int64)))
        batch = batch_size
        if input_context is not None:
            ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
            batch = input_context.get_per_replica_batch_size(batch_size)
        if training:
            ds = ds.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True).repeat()
        return ds.batch(batch, drop_remainder=training).prefetch(tf.data.AUTOTUNE)

    return input_fn


def move_head_weights(head_weights: dict[str, np.ndarray], model: tf.keras.Model) -> None:
    """Assign the trained head's weights to the full model's layers of the same names."""
    by_name = {weight.name.split(":")[0]: weight for weight in model.weights}
    moved = 0
    for name, value in head_weights.items():
        if name in by_name:
            by_name[name].assign(value)
            moved += 1
    if moved == 0:
        raise ValueError("no head weight matched a layer of the full model")


# --- scripts.bottleneck_benchmark's figures (here, not in the script: benchmarks/transfer.py prints them too) ---


def end_to_end(uncached: list[float], cached: list[float], evaluate_uncached: float, evaluate_cached: float) -> dict:
    """Totals over all the epochs (the first included) and the per-epoch figure after the first, labelled so."""
    total_uncached, total_cached = sum(uncached), sum(cached)
    later_uncached = sum(uncached[1:]) / len(uncached[1:])
    later_cached = sum(cached[1:]) / len(cached[1:])
    return {
        "total_seconds_no_cache": total_uncached,
        "total_seconds_cache": total_cached,
        "speedup_end_to_end": total_uncached / total_cached,
        "evaluate_seconds_no_cache": evaluate_uncached,
        "evaluate_seconds_cache": evaluate_cached,
        "speedup_with_evaluation": (total_uncached + evaluate_uncached) / (total_cached + evaluate_cached),
        "mean_seconds_per_epoch_after_first_no_cache": later_uncached,
        "mean_seconds_per_epoch_after_first_cache": later_cached,
        "speedup_after_first_epoch": later_uncached / later_cached,
    }


def figures_table(result: dict) -> str:
    """The bottleneck benchmark's table: per epoch, the totals, the evaluation, the accuracies, the base."""
    uncached, cached, epochs = result["seconds_per_epoch_no_cache"], result["seconds_per_epoch_cache"], result["epochs"]
    lines = [
        f"{'':34}{'no cache':>12}{'cache':>12}",
        f"{'epoch 1 (s)':34}{uncached[0]:12.1f}{cached[0]:12.1f}",
        f"{f'epochs 2-{epochs} (s, mean)':34}"
        f"{result['mean_seconds_per_epoch_after_first_no_cache']:12.2f}"
        f"{result['mean_seconds_per_epoch_after_first_cache']:12.3f}",
        f"{f'total, {epochs} epochs (s)':34}{result['total_seconds_no_cache']:12.1f}{result['total_seconds_cache']:12.1f}",
        f"{'test evaluation (s)':34}{result['evaluate_seconds_no_cache']:12.1f}{result['evaluate_seconds_cache']:12.1f}",
        f"{'test accuracy':34}{result['accuracy_no_cache']:12.4f}{result['accuracy_cache']:12.4f}",
        f"end to end over {epochs} epochs (first included): {result['speedup_end_to_end']:,.2f}x "
        f"({result['speedup_with_evaluation']:,.2f}x with the test evaluation); "
        f"per epoch after the first: {result['speedup_after_first_epoch']:,.0f}x",
        f"accuracy {result['accuracy_no_cache']:.4f} vs {result['accuracy_cache']:.4f} "
        f"({result['accuracy_difference_points']:.2f} points apart; chance {result['chance_accuracy']:.2f})",
    ]
    if result.get("pretraining"):
        p = result["pretraining"]
        lines.append(
            f"base: pretrained {p['steps']} steps at {p['image_size']}x{p['image_size']} on {p['split']} "
            f"in {p['seconds']:.1f} s (its own test accuracy {p['accuracy']:.4f}), weights {p['weights_file']}"
        )
    return "\n".join(lines)
