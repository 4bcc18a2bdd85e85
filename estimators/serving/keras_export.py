"""SavedModel export of a Keras model with the same signatures the Estimator's exporters write.

Used by the Keras engine, and by the bottleneck route (a head trained on cached
features is moved into the full model and exported from it).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import tensorflow as tf

from common.names import ASSETS_EXTRA, SERVING_KEY
from estimators.serving import receivers as serving
from estimators.tasks import load as load_task

if TYPE_CHECKING:
    from estimators.serving import Serving


def _predict(model: tf.keras.Model, features: dict[str, tf.Tensor], how: Serving) -> dict[str, tf.Tensor]:
    # A batch of 0 runs as one zero row, sliced off again (see serving.pad_empty_batch).
    padded, rows = serving.pad_empty_batch(features)
    return load_task(how.task).outputs(model(padded, training=False)[:rows], how.class_names)


def _signatures(model: tf.keras.Model, how: Serving) -> dict[str, tf.types.experimental.ConcreteFunction]:
    """The task's own signatures (a language model's sampling loop), else those of the input's kind."""
    own = load_task(how.task).signatures(model, how)
    return own if own is not None else _input_signatures(model, how)


def _input_signatures(model: tf.keras.Model, how: Serving) -> dict[str, tf.types.experimental.ConcreteFunction]:
    if how.image is not None:
        image = how.image

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=serving.BYTES_INPUT)])
        def serve_bytes(image_bytes):
            return _predict(model, {how.input_name: serving.decode_batch(image_bytes, image)}, how)

        @tf.function(input_signature=[tf.TensorSpec([None, *image.shape], tf.float32, name=serving.FLOAT_INPUT)])
        def serve_float(images):
            return _predict(model, {how.input_name: images}, how)

        return {
            SERVING_KEY: serve_bytes.get_concrete_function(),
            serving.FLOAT_SIGNATURE: serve_float.get_concrete_function(),
        }

    if how.series is not None:
        window_spec = tf.TensorSpec([None, *how.series.shape], tf.float32, name=serving.WINDOW_INPUT)

        @tf.function(input_signature=[window_spec])
        def serve_window(window):
            return _predict(model, {serving.WINDOW_INPUT: window}, how)

        return {SERVING_KEY: serve_window.get_concrete_function()}

    if how.text_input is not None:

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=how.text_input)])
        def serve_text(texts):
            return _predict(model, {how.text_input: texts}, how)

        return {SERVING_KEY: serve_text.get_concrete_function()}

    specs = {name: tf.TensorSpec([None, width], tf.float32, name=name) for name, width in how.features}

    @tf.function(input_signature=[specs])
    def serve_features(features):
        return _predict(model, serving.standardized(features, how.scaling), how)

    # A dict input signature would show up as one nested input; re-expose it flat, by feature name.
    @tf.function(input_signature=list(specs.values()))
    def serve_flat(*tensors):
        return serve_features(dict(zip(specs, tensors, strict=True)))

    return {SERVING_KEY: serve_flat.get_concrete_function()}


TEMP_PREFIX = "temp-"


def export_keras_model(model: tf.keras.Model, export_base: str, how: Serving) -> str:
    """Write ``export_base/<timestamp>`` (as the Estimator's exporters name them) with labels beside.

    Atomic, like the Estimator's exporters: everything is written to ``temp-<timestamp>``
    and renamed to the numbered directory last, so TF Serving, an exporter's garbage
    collection or ``numbered_exports`` never see a half-written SavedModel; a failure
    removes the temporary directory and leaves earlier exports as they were.
    """
    module = tf.Module()
    # Track the weights, not the model: the model would bring its optimizer and
    # slots into the SavedModel, which then cannot be loaded back.
    module.weights = list(model.weights)
    if how.text_input is not None:
        # A tokeniser's vocabulary is a lookup table, not a weight: track its layers so the table is saved too.
        module.text_layers = list(model.layers)

    def assets(temp_dir: str) -> None:
        serving.write_labels(os.path.join(temp_dir, ASSETS_EXTRA), how.class_names)
        if how.series is not None:
            serving.write_series(os.path.join(temp_dir, ASSETS_EXTRA), how.series)

    return save_atomically(module, export_base, _signatures(model, how), assets)


def save_atomically(
    module: tf.Module, export_base: str, signatures: dict, assets: Callable[[str], None] | None = None
) -> str:
    """``module`` saved with ``signatures`` (and ``assets(folder)`` written beside) as ``export_base/<timestamp>``:
    into ``temp-<timestamp>`` first, renamed last; a failure removes the temporary folder. Returns the export."""
    export_dir = os.path.join(export_base, str(int(time.time())))
    while tf.io.gfile.exists(export_dir):
        time.sleep(1)
        export_dir = os.path.join(export_base, str(int(time.time())))
    temp_dir = os.path.join(export_base, TEMP_PREFIX + os.path.basename(export_dir))
    try:
        tf.saved_model.save(module, temp_dir, signatures=signatures)
        if assets is not None:
            assets(temp_dir)
        tf.io.gfile.rename(temp_dir, export_dir)
    except BaseException:
        if tf.io.gfile.exists(temp_dir):
            tf.io.gfile.rmtree(temp_dir)
        raise
    return export_dir


def numbered_exports(export_base: str) -> list[str]:
    """The complete exports under ``export_base``, oldest first (temporary directories ignored)."""
    if not tf.io.gfile.isdir(export_base):
        return []
    names = [n.rstrip("/") for n in tf.io.gfile.listdir(export_base)]
    return [os.path.join(export_base, n) for n in sorted((n for n in names if n.isdigit()), key=int)]
