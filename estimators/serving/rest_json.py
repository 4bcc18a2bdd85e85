"""TF Serving's JSON for predict: request bodies -> checked numpy inputs, outputs -> the answer's JSON.

Follows tensorflow_serving/util/json_tensor.cc (row format ``instances`` and columnar ``inputs``,
``{"b64": ...}`` binary values, TF Serving's messages), and adds what TF Serving leaves to the
graph: every input is checked against the signature's dtype and shape here, so a request can
never reach TensorFlow with a tensor a kernel would abort on, and NaN or infinite floats are refused.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import json

import numpy as np
import tensorflow as tf

from common.names import SERVING_KEY
from estimators.serving.rest_errors import RequestError, invalid, json_type, json_value

# Deeper than this is no tensor any signature takes; Python's own JSON parser would recurse to a crash.
MAX_JSON_DEPTH = 64

# TF's DataTypeString names, which TF Serving's messages use.
_TF_NAMES = {"float32": "float", "float64": "double", "float16": "half"}


@dataclasses.dataclass(frozen=True)
class PredictRequest:
    signature_name: str
    inputs: dict  # input name -> numpy array, checked against the signature
    rows: bool  # "instances" (answered as "predictions") or "inputs" (answered as "outputs")
    batch_size: int | None  # rows in every input (None: the inputs do not share a batch dimension)


def parse_body(raw: bytes):
    """The body as JSON, or TF Serving's parse error (an over-deep document included) as a 400."""
    if not raw.strip():
        raise invalid("JSON Parse error: The document is empty")
    try:
        text = raw.decode("utf-8")
        body = json.loads(text)
    except UnicodeDecodeError as err:
        raise invalid(f"JSON Parse error: Invalid encoding in string. at offset: {err.start}") from None
    except json.JSONDecodeError as err:
        raise invalid(f"JSON Parse error: {err.msg} at offset: {err.pos}") from None
    except RecursionError:
        raise invalid(f"JSON Parse error: nested deeper than {MAX_JSON_DEPTH} levels") from None
    # A document holds no more levels than opening brackets: most bodies need no walk at all.
    if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH and _depth(body) > MAX_JSON_DEPTH:
        raise invalid(f"JSON Parse error: nested deeper than {MAX_JSON_DEPTH} levels")
    return body


def _depth(value) -> int:
    depth, level = 0, [value]
    while level:
        depth += 1
        if depth > MAX_JSON_DEPTH:
            return depth
        level = [v for item in level for v in _children(item)]
    return depth - 1


def _children(value) -> list:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return list(value.values())
    return []


def signature_name(body: dict) -> str:
    name = body.get("signature_name", "")
    if not isinstance(name, str):
        raise invalid(
            f"JSON Value: {json_value(name)} not formatted correctly. 'signature_name' key must be a string value."
        )
    return name or SERVING_KEY


def require_object(body) -> dict:
    if not isinstance(body, dict):
        raise invalid(f"JSON Value: {json_value(body)} Is not object")
    return body


def predict_request(body: dict, specs: dict) -> PredictRequest:
    """A predict body (already an object) against the signature's input specs (name -> tf.TensorSpec)."""
    name = signature_name(body)
    if "instances" in body and "inputs" in body:
        raise invalid(
            f"JSON Value: {json_value(body)} Not formatted correctly expecting only one of 'inputs' or "
            "'instances' keys to exist "
        )
    if "instances" in body:
        instances = body["instances"]
        if not isinstance(instances, list):
            raise invalid(f"JSON Value: {json_value(body)} Expecting 'instances' to be an list/array")
        if not instances:
            raise invalid(f"JSON Value: {json_value(body)} No values in 'instances' array")
        inputs = _row_columns(instances, specs)
    elif "inputs" in body:
        inputs = _named_columns(body["inputs"], specs)
    else:
        raise invalid("Missing 'inputs' or 'instances' key")
    arrays = {key: to_array(key, value, specs[key]) for key, value in inputs.items()}
    return PredictRequest(name, arrays, "instances" in body, _batch_size(arrays, specs, "instances" in body))


def _is_b64(value) -> bool:
    return isinstance(value, dict) and set(value) == {"b64"}


def _row_columns(instances: list, specs: dict) -> dict:
    """Row format: each instance is the one input's value, or an object naming every input."""
    names = sorted(specs)
    named = [isinstance(i, dict) and not _is_b64(i) for i in instances]
    if not any(named):
        if len(specs) != 1:
            raise invalid(
                "instances is a plain list, but expecting list of objects as multiple input tensors required "
                "as per tensorinfo_map"
            )
        return {names[0]: instances}
    for index, instance in enumerate(instances):
        if not named[index]:
            raise invalid(f"Expecting object but got list at item {index} of input list")
        if set(instance) != set(specs):
            raise invalid(
                f"Failed to process element: {index} of 'instances' list. JSON object: {json_value(instance)} "
                f"keys must be equal to: {','.join(names)}"
            )
    return {name: [instance[name] for instance in instances] for name in names}


def _named_columns(inputs, specs: dict) -> dict:
    """Columnar format: an object naming every input, or the one input's value."""
    if isinstance(inputs, dict) and not _is_b64(inputs):
        for name in sorted(specs):
            if name not in inputs:
                raise invalid(f"Missing named input: {name} in 'inputs' object.")
        unknown = sorted(set(inputs) - set(specs))
        if unknown:
            raise invalid(f"JSON object: does not have named input: {unknown[0]}")
        return dict(inputs)
    if len(specs) != 1:
        raise invalid(
            "inputs is a plain value/list, but expecting an object as multiple input tensors required as per "
            "tensorinfo_map"
        )
    return {next(iter(specs)): inputs}


def _batch_size(arrays: dict, specs: dict, rows: bool) -> int | None:
    sizes = {name: a.shape[0] for name, a in arrays.items() if a.ndim and specs[name].shape.rank}
    if rows and len(set(sizes.values())) > 1:
        raise invalid(f"Expecting tensor size: {next(iter(sizes.values()))} but got: {sorted(sizes.values())[-1]}")
    return next(iter(sizes.values())) if sizes and len(set(sizes.values())) == 1 else None


# ---- one input: JSON -> numpy, checked -----------------------------------------------------------


def dtype_name(dtype: tf.DType) -> str:
    return _TF_NAMES.get(dtype.name, dtype.name)


def shape_text(dims) -> str:
    return "[" + ",".join("-1" if d is None else str(d) for d in dims) + "]"


def to_array(name: str, value, spec: tf.TensorSpec) -> np.ndarray:
    """One input's JSON value as an array of the spec's dtype and shape, or a 400 saying what is wrong."""
    expected, convert, dtype = _plan(spec)
    shape, leaves = _flatten(name, value, None if expected is None else list(expected))
    if expected is not None and not _fits(shape, expected):
        raise invalid(f"input '{name}': expected shape {shape_text(expected)}, got {shape_text(shape)}")
    if convert is None:
        _converter(spec.dtype)  # raises TF Serving's "Conversion of JSON to type ... is not supported"
    values = [convert(name, leaf, spec.dtype) for leaf in leaves]
    array = np.empty(len(values), dtype=dtype)
    array[:] = values
    return array.reshape(shape)


@functools.lru_cache(maxsize=256)
def _plan(spec: tf.TensorSpec) -> tuple:
    """What checking a value against the spec needs, worked out once a spec (TF's DType comparisons are slow):
    the expected dimensions (None: any rank), the leaf converter and the numpy dtype (None, None: a dtype JSON
    cannot give, refused once the shape has been checked)."""
    expected = tuple(spec.shape.as_list()) if spec.shape.rank is not None else None
    try:
        convert = _converter(spec.dtype)
    except RequestError:
        return expected, None, None
    return expected, convert, object if spec.dtype == tf.string else spec.dtype.as_numpy_dtype


def _fits(shape: list[int], expected: list) -> bool:
    return len(shape) == len(expected) and all(e is None or e == s for e, s in zip(expected, shape, strict=True))


def _flatten(name: str, value, expected: list | None) -> tuple[list[int], list]:
    """The value's shape (lists nested evenly) and its leaves in row-major order."""
    shape, level = [], [value]
    rank = len(expected) if expected is not None else None
    while level and all(isinstance(v, list) for v in level):
        if rank is not None and len(shape) == rank:
            raise invalid(f"input '{name}': expected shape {shape_text(expected)}, got a deeper list")
        sizes = {len(v) for v in level}
        if len(sizes) > 1:
            raise invalid(f"input '{name}': lists of different lengths ({sorted(sizes)}) at level {len(shape) + 1}")
        shape.append(sizes.pop())
        level = [item for v in level for item in v]
    if any(isinstance(v, list) for v in level):
        raise invalid(f"input '{name}': a list and a value at the same level {len(shape) + 1}")
    if not level and expected is not None:  # an empty list: the remaining dimensions are the signature's (or 0)
        shape += [d or 0 for d in expected[len(shape) :]]
    return shape, level


def _type_error(name: str, value, dtype: tf.DType):
    return invalid(
        f"input '{name}': JSON Value: {json_value(value)} Type: {json_type(value)} is not of expected type: "
        f"{dtype_name(dtype)}"
    )


def _to_bytes(name: str, value, dtype: tf.DType) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if _is_b64(value) and isinstance(value["b64"], str):
        try:
            return base64.b64decode(value["b64"], validate=True)
        except (binascii.Error, ValueError):
            raise invalid(f"input '{name}': Unable to base64 decode") from None
    if isinstance(value, dict):
        raise invalid(f"input '{name}': JSON Value: {json_value(value)} not formatted correctly for base64 data")
    raise _type_error(name, value, dtype)


def _to_float(name: str, value, dtype: tf.DType) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _type_error(name, value, dtype)
    number = float(value) if not isinstance(value, int) or abs(value) < 1 << 1023 else float("inf")
    with np.errstate(over="ignore"):
        cast = np.asarray(number, dtype=dtype.as_numpy_dtype)
    if not np.isfinite(number) or not np.isfinite(cast):
        raise invalid(f"input '{name}': {json_value(value)} is not a finite {dtype_name(dtype)}")
    return number


def _to_int(name: str, value, dtype: tf.DType) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _type_error(name, value, dtype)
    info = np.iinfo(dtype.as_numpy_dtype)
    if not info.min <= value <= info.max:
        raise invalid(f"input '{name}': {json_value(value)} is out of range for {dtype_name(dtype)}")
    return value


def _to_bool(name: str, value, dtype: tf.DType) -> bool:
    if not isinstance(value, bool):
        raise _type_error(name, value, dtype)
    return value


def _converter(dtype: tf.DType):
    if dtype == tf.string:
        return _to_bytes
    if dtype.is_floating:
        return _to_float
    if dtype.is_integer:
        return _to_int
    if dtype == tf.bool:
        return _to_bool
    raise invalid(f"Conversion of JSON to type: {dtype_name(dtype)} is not supported")


# ---- outputs -> JSON ---------------------------------------------------------------------------


def output_json(name: str, array: np.ndarray):
    """One output as JSON: text for strings (``{"b64": ...}`` if the name ends in ``_bytes``, TF Serving's
    rule), and float32 values printed with float32's digits, as TF Serving prints them."""
    if array.dtype.kind in "SO":
        if name.endswith("_bytes"):
            items = [{"b64": base64.b64encode(item).decode()} for item in array.ravel().tolist()]
        else:
            items = [item.decode("utf-8", "replace") for item in array.ravel().tolist()]
        if array.ndim == 0:
            return items[0]
        shaped = np.empty(len(items), dtype=object)
        shaped[:] = items
        return shaped.reshape(array.shape).tolist()
    if array.dtype in (np.float32, np.float16):
        return array.astype(str).astype(np.float64).tolist()  # the shortest text that reads back as float32
    return array.tolist()


def output_values(outputs: dict) -> dict:
    """Every output as JSON values (name -> nested lists), sorted by name; a batch converts once for all its
    requests, which then take their own rows (``values[name][start:stop]``)."""
    return {key: output_json(key, np.asarray(array)) for key, array in sorted(outputs.items())}


def predict_answer(values: dict, rows: bool) -> dict:
    """``{"predictions": ...}`` per row (a value, or an object when several outputs) or ``{"outputs": ...}``,
    from ``output_values``."""
    if not rows:
        return {"outputs": next(iter(values.values())) if len(values) == 1 else values}
    if len(values) == 1:
        return {"predictions": next(iter(values.values()))}
    count = min(len(v) for v in values.values())
    return {"predictions": [{key: v[i] for key, v in values.items()} for i in range(count)]}
