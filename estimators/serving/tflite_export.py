"""TFLite export (``--tflite_output_file``): the run's final model as TensorFlow Lite flatbuffers.

As make_image_classifier's flag of the same name, the float model is written at the path given;
beside it ``<stem>_dynamic_range.tflite`` (post-training dynamic-range quantisation: weights
stored as int8, about a quarter of the size, activations in float) and ``labels.txt`` (one class
name a line, in the order of the outputs: the SavedModel's ``assets.extra/labels.txt``).

What the models take and give:
- an image model: float32 ``[1, height, width, channels]`` pixel values 0..255, the decoded image
  at the model's size (the normalisation of its backbone runs inside the graph); the batch
  dimension may be resized (``Interpreter.resize_tensor_input``);
- a features model: one float32 ``[1, width]`` input per feature, the raw values the SavedModel's
  ``serving_default`` takes (the training standardisation runs inside the graph);
- output: the task's one output (common.tasks): float32 ``[1, classes]`` ``probabilities`` for a
  classifier, float32 ``[1]`` ``predictions`` for a regression (which has no labels file).

The model converted is the served Keras model built afresh in float32 (whatever the training's
mixed-precision policy) and given the weights of the run's final SavedModel, whichever engine
wrote it: the Keras engine's fitted model, the Estimator's chosen checkpoint, the bottleneck
route's assembled model. So the .tflite computes what the export serves.
"""

from __future__ import annotations

import dataclasses
import os
import posixpath
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

import numpy as np
import tensorflow as tf

from common.errors import KestrelError, UsageError
from common.names import tflite_files
from common.params import OutputParams
from estimators.models.spec import WEIGHTS_NONE
from estimators.serving import receivers
from estimators.serving.predict import native_stderr_silenced
from estimators.tasks import load as load_task
from input_fns.preprocessing import PREPROCESSORS

if TYPE_CHECKING:
    from estimators.engines import Job
    from estimators.models.registry import ModelEntry
    from estimators.serving import Serving

FLAG = "tflite_output_file"
PIXELS_INPUT = "pixels"
FLOAT, DYNAMIC_RANGE = "float32", "dynamic range"
_TEMP_PREFIX = ".kestrel-tflite-"


@dataclasses.dataclass(frozen=True)
class TfliteFile:
    """One file the export wrote: what it is, where, and its size."""

    kind: str  # FLOAT, DYNAMIC_RANGE or "labels"
    path: str
    size_bytes: int


def check(job: Job, out: OutputParams) -> None:
    """Before training: refuse a model with no Keras model to convert, or a labels file of another model."""
    if not out.tflite_output_file:
        return
    if not load_task(job.spec.task).tflite:
        raise UsageError(FLAG, f"--task={job.spec.task} has no TFLite export; leave --tflite_output_file empty")
    if job.build is None:
        raise UsageError(
            FLAG,
            f"'{job.model_name}' is a canned Estimator, which has no Keras model to convert to TFLite; "
            "choose a Keras model (dnn for features) or leave --tflite_output_file empty",
        )
    if job.serving is not None and job.serving.text_input is not None:
        raise UsageError(
            FLAG,
            f"'{job.model_name}' reads raw strings, which TFLite's builtin ops cannot tokenise; "
            "serve its SavedModel (scripts.serve) or leave --tflite_output_file empty",
        )
    labels = tflite_files(out.tflite_output_file)[2]
    if (
        _has_labels(job.serving)
        and tf.io.gfile.exists(labels)
        and _read_labels(labels) != tuple(job.serving.class_names)
    ):
        raise UsageError(
            FLAG,
            f"'{labels}' lists other classes than this run's ({', '.join(job.serving.class_names)}): it belongs to "
            "another model; choose another folder or remove it",
        )


def export_run(out: OutputParams, entry: ModelEntry, job: Job, export_dir: str | None, stream: TextIO) -> tuple:
    """The TFLite files of a run whose final SavedModel is ``export_dir`` (none when not asked or not exported).

    ``job`` is the last stage: its spec builds the served architecture (a bottleneck stage trains only
    the head, but serves the full model, as the builder makes it).
    """
    if not out.tflite_output_file or export_dir is None:
        return ()
    spec = dataclasses.replace(job.spec, weights=WEIGHTS_NONE)  # the export's weights replace any initial ones
    builder = entry.load_builder()
    return export(out.tflite_output_file, lambda: builder(spec), export_dir, job.serving, stream)


def export(
    path: str, build: Callable[[], tf.keras.Model], export_dir: str, how: Serving, stream: TextIO = sys.stdout
) -> tuple[TfliteFile, ...]:
    """Write the float and dynamic-range models of ``build()`` with ``export_dir``'s weights, and the labels."""
    print(f"tflite: converting the model of {export_dir} (float32 and dynamic range)", file=stream, flush=True)
    model = served_model(build, export_dir)
    function = serving_function(model, how)
    float_path, dynamic_path, labels_path = tflite_files(path)
    contents = {
        float_path: convert(function, model, quantize=False),
        dynamic_path: convert(function, model, quantize=True),
    }
    if _has_labels(how):
        contents[labels_path] = "".join(f"{name}\n" for name in how.class_names).encode()
    _write_all(contents)
    kinds = (FLOAT, DYNAMIC_RANGE, "labels")
    return tuple(TfliteFile(kind, p, len(data)) for kind, (p, data) in zip(kinds, contents.items(), strict=False))


def _has_labels(how: Serving) -> bool:
    """A classifier's outputs are its classes, named in the labels file; a regression's one value has none."""
    return load_task(how.task).tflite_labels


def served_model(build: Callable[[], tf.keras.Model], export_dir: str) -> tf.keras.Model:
    """``build()`` in float32, every weight set from the SavedModel at ``export_dir`` by name."""
    policy = tf.keras.mixed_precision.global_policy()
    tf.keras.mixed_precision.set_global_policy("float32")
    try:
        model = build()
    finally:
        tf.keras.mixed_precision.set_global_policy(policy)
    saved = export_weights(export_dir)
    for weight in model.weights:
        name = weight.name.split(":")[0]
        value = saved.get(name)
        if value is None or list(value.shape) != weight.shape.as_list():
            found = "missing" if value is None else f"of shape {list(value.shape)}"
            raise KestrelError(
                f"tflite: the SavedModel {export_dir} does not match the model: weight '{name}' "
                f"{weight.shape.as_list()} is {found} there"
            )
        weight.assign(value)
    return model


def export_weights(export_dir: str) -> dict[str, np.ndarray]:
    """The variables of a SavedModel by name: an Estimator's (TF1 graph) or export_keras_model's (a weights list)."""
    loaded = tf.saved_model.load(export_dir)
    variables = getattr(loaded, "weights", None) or loaded.variables
    return {v.name.split(":")[0]: v.numpy() for v in variables}


def serving_function(model: tf.keras.Model, how: Serving) -> tf.types.experimental.ConcreteFunction:
    """Pixels 0..255 (or the raw named features) -> the task's one output, the input preparation in the graph.

    Classification gives ``probabilities``, regression ``predictions`` (common.tasks), as the SavedModel's
    signatures name them; the class ids and names they also return are left to the client (the labels file).
    """
    plugin = load_task(how.task)
    output = plugin.task.output

    def predict(features: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        return {output: plugin.outputs(model(features, training=False), how.class_names)[output]}

    if how.image is not None:
        image = how.image
        normalise = PREPROCESSORS[image.preprocessing]

        @tf.function(input_signature=[tf.TensorSpec([None, *image.shape], tf.float32, name=PIXELS_INPUT)])
        def from_pixels(pixels):
            return predict({how.input_name: normalise(pixels)})

        return from_pixels.get_concrete_function()

    specs = [tf.TensorSpec([None, width], tf.float32, name=name) for name, width in how.features]

    @tf.function(input_signature=specs)
    def from_features(*tensors):
        raw = dict(zip((name for name, _ in how.features), tensors, strict=True))
        return predict(receivers.standardized(raw, how.scaling))  # the training standardisation, as the export's

    return from_features.get_concrete_function()


def convert(function: tf.types.experimental.ConcreteFunction, model: tf.keras.Model, quantize: bool) -> bytes:
    """The flatbuffer of ``function``: float, or with dynamic-range quantised weights."""
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function], model)
    if quantize:
        # No representative data: weights become int8, activations stay float (dynamic range).
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    try:
        # The converter prints its MLIR op tally ("Non-Converted Ops: 9 ... ARITH ops": constants, which is
        # normal) from C++ straight to stderr; its real failures come back as the exception below.
        with native_stderr_silenced():
            return converter.convert()
    except Exception as err:  # noqa: BLE001  (ConverterError and friends: the model has an op TFLite lacks)
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise KestrelError(
            f"tflite: '{model.name}' cannot be converted to TFLite ({first_line}); the SavedModel is exported"
        ) from None


def _write_all(contents: dict[str, bytes]) -> None:
    """Every file written under a temporary folder beside them first, then each renamed into place.

    A failure (disk full, a crash) leaves the earlier files as they were: a reader never sees a half-written one.
    """
    first = next(iter(contents))
    temp_dir = posixpath.join(posixpath.dirname(first) or ".", f"{_TEMP_PREFIX}{os.getpid()}")
    tf.io.gfile.makedirs(temp_dir)
    try:
        staged = {}
        for path, data in contents.items():
            staged[path] = posixpath.join(temp_dir, posixpath.basename(path))
            with tf.io.gfile.GFile(staged[path], "wb") as f:
                f.write(data)
        for path, temp in staged.items():
            tf.io.gfile.rename(temp, path, overwrite=True)
    finally:
        tf.io.gfile.rmtree(temp_dir)


def _read_labels(path: str) -> tuple[str, ...]:
    with tf.io.gfile.GFile(path) as f:
        return tuple(line.strip() for line in f if line.strip())
