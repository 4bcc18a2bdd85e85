"""``:classify`` and ``:regress``: TF Serving's Example-based APIs, for signatures whose method allows them.

The body is ``{"signature_name": ..., "context": {feature: value}, "examples": [{feature: value}, ...]}``
(tensorflow_serving/util/json_tensor.cc); each example, merged with the context, becomes a serialized
tf.train.Example fed to the signature's one string input. kestrel's own exports have predict
signatures only (they take images or named features, not Examples), so for them these calls answer
TF Serving's own 400: ``Expected classification signature method_name to be tensorflow/serving/classify.``
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from estimators.serving import rest_json
from estimators.serving.rest_errors import invalid, json_type, json_value

CLASSIFY = "tensorflow/serving/classify"
REGRESS = "tensorflow/serving/regress"


def examples(body: dict, method: str) -> list[bytes]:
    """The serialized Examples of a classify or regress body (TF Serving's checks and messages)."""
    rest_json.signature_name(body)
    context = _example(body["context"]) if "context" in body else None
    values = body.get("examples")
    if "examples" not in body:
        raise invalid(
            f"JSON Value: {json_value(body)} When method is {method}, key 'examples' is expected and was not found"
        )
    if not isinstance(values, list):
        raise invalid(f"JSON Value: {json_value(body)} Expecting 'examples' value to be an list/array")
    if not values:
        raise invalid(f"JSON Value: {json_value(body)} 'examples' value is an empty array")
    serialized = []
    for value in values:
        example = _example(value)
        if context is not None:
            merged = tf.train.Example()
            merged.CopyFrom(context)
            merged.MergeFrom(example)
            example = merged
        serialized.append(example.SerializeToString())
    return serialized


def _example(value) -> tf.train.Example:
    if not isinstance(value, dict):
        raise invalid(f"Example must be JSON object but got JSON {json_type(value)}")
    example = tf.train.Example()
    for name, content in value.items():
        feature = example.features.feature[name]
        for item in content if isinstance(content, list) else [content]:
            _add(name, item, feature)
    return example


def _add(name: str, item, feature: tf.train.Feature) -> None:
    kind = feature.WhichOneof("kind")
    if isinstance(item, bool) or (isinstance(item, int) and not isinstance(item, bool)):
        if kind not in (None, "int64_list"):
            raise _kind_error(name, kind)
        if not -(1 << 63) <= int(item) < 1 << 63:
            raise invalid(f"Feature: {name} has uint64_t element. Only int64_t is supported.")
        feature.int64_list.value.append(int(item))
    elif isinstance(item, float):
        if kind not in (None, "float_list"):
            raise _kind_error(name, kind)
        if not math.isfinite(item):  # as for predict: no NaN or infinity reaches a model
            raise invalid(f"Feature: {name} has a non-finite element: {json_value(item)}")
        feature.float_list.value.append(item)
    elif isinstance(item, str) or rest_json._is_b64(item):
        if kind not in (None, "bytes_list"):
            raise _kind_error(name, kind)
        feature.bytes_list.value.append(rest_json._to_bytes(name, item, tf.string))
    else:
        raise invalid(f"Feature: {name} has element with unexpected JSON type: {json_type(item)}")


def _kind_error(name: str, kind: str) -> Exception:
    words = {"bytes_list": "bytes", "float_list": "float", "int64_list": "int64"}
    return invalid(f"Unexpected element type in feature: {name} expecting type: {words[kind]}")


def check_method(signature_def, method: str) -> None:
    """TF Serving's classifier.cc / regressor.cc check of the signature's method_name."""
    wanted = CLASSIFY if method == "classify" else REGRESS
    if signature_def.method_name != wanted:
        kind = "classification" if method == "classify" else "regression"
        raise invalid(f"Expected {kind} signature method_name to be {wanted}. Was: {signature_def.method_name}")
    if len(signature_def.inputs) != 1:
        raise invalid("Expected one input Tensor.")


def results(outputs: dict, method: str) -> dict:
    """``{"results": ...}``: per example ``[[label, score], ...]`` for classify, a number for regress."""
    if method == "regress":
        values = np.asarray(next(iter(outputs.values())), dtype=np.float32).reshape(-1)
        return {"results": rest_json.output_json("outputs", values)}
    classes, scores = outputs.get("classes"), outputs.get("scores")
    if scores is None and classes is None:
        raise invalid('Expected classification signature outputs to contain at least one of "classes" or "scores".')
    rows = len(classes if classes is not None else scores)
    answer = []
    for i in range(rows):
        labels = [c.decode("utf-8", "replace") for c in classes[i]] if classes is not None else None
        values = rest_json.output_json("scores", np.asarray(scores[i])) if scores is not None else None
        if labels is None:
            answer.append([[v] for v in values])
        elif values is None:
            answer.append([[label] for label in labels])
        else:
            answer.append([[label, v] for label, v in zip(labels, values, strict=True)])
    return {"results": answer}
