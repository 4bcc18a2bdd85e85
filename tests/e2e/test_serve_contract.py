"""TF Serving 2.15's REST contract, golden request -> response, compared value for value.

Each expected answer is written from TF Serving's source (model_servers/http_rest_api_handler.cc and
http_rest_api_util.cc for routes and messages, get_model_status_impl.cc for status,
util/json_tensor.cc for the JSON, servables/tensorflow/classifier.cc and regressor.cc) and the REST
API guide (https://www.tensorflow.org/tfx/serving/api_rest), not from kestrel's own output. Then
every input is checked before TensorFlow: the request that used to abort the process, NaN and
infinite floats, wrong dtypes and shapes, deep nesting, all 400 with the server still serving.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from google.protobuf import json_format
from PIL import Image
from serving_client import MODEL, Server, b64
from tensorflow_serving.apis import get_model_status_pb2

pytestmark = pytest.mark.large

PREDICT = f"/v1/models/{MODEL}:predict"
FLOAT_SIGNATURE = "float_images:serving_default"


@pytest.fixture(scope="module")
def server(digits_base):
    config = digits_base.parent / "models.config"
    config.write_text(
        f'model_config_list {{ config {{ name: "{MODEL}" base_path: "{digits_base}" '
        'version_labels { key: "stable" value: 1 } } }'
    )
    with Server(digits_base, [f"--model_config_file={config}"], digits_base.parent / "stderr.log") as served:
        yield served


@pytest.fixture(scope="module")
def images(digits_builder):
    """Two test digits: PNG bytes and the float pixels the float_images signature takes."""
    pngs, pixels = [], []
    for image, _ in tfds.as_numpy(digits_builder.as_dataset(split="test[:2]", as_supervised=True)):
        buffer = io.BytesIO()
        Image.fromarray(image[..., 0]).save(buffer, format="PNG")
        pngs.append(buffer.getvalue())
        pixels.append(image.astype(np.float32))
    return pngs, pixels


def _float32(values) -> list:
    """TF Serving prints a float32 with float32's shortest digits; JSON reads those back as this double."""
    return np.asarray(values, dtype=np.float32).astype(str).astype(np.float64).tolist()


def _expected_rows(export_path: str, pngs: list[bytes]) -> list[dict]:
    out = tf.saved_model.load(export_path).signatures["serving_default"](image_bytes=tf.constant(pngs))
    return [
        {
            "class_ids": int(out["class_ids"][i]),
            "class_names": out["class_names"][i].numpy().decode(),
            "probabilities": _float32(out["probabilities"][i]),
        }
        for i in range(len(pngs))
    ]


# ---- status and metadata -----------------------------------------------------------------------


def test_status_is_tf_servings_get_model_status_response(server):
    code, answer = server.call("GET", f"/v1/models/{MODEL}")
    assert (code, answer) == (
        200,
        {
            "model_version_status": [
                {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
            ]
        },
    )
    # TF Serving's own proto reads it (tensorflow-serving-api's GetModelStatusResponse).
    parsed = json_format.ParseDict(answer, get_model_status_pb2.GetModelStatusResponse())
    assert parsed.model_version_status[0].state == get_model_status_pb2.ModelVersionStatus.AVAILABLE


def test_metadata_is_tf_servings(server, trained_digits):
    code, answer = server.call("GET", f"/v1/models/{MODEL}/versions/1/metadata")
    assert code == 200
    assert answer["model_spec"] == {"name": MODEL, "signature_name": "", "version": "1"}
    defs = answer["metadata"]["signature_def"]["signature_def"]
    assert defs["serving_default"]["inputs"] == {
        "image_bytes": {
            "dtype": "DT_STRING",
            "tensor_shape": {"dim": [{"size": "-1", "name": ""}], "unknown_rank": False},
            "name": "image_bytes:0",
        }
    }
    assert defs[FLOAT_SIGNATURE]["inputs"]["images"]["tensor_shape"] == {
        "dim": [
            {"size": "-1", "name": ""},
            {"size": "8", "name": ""},
            {"size": "8", "name": ""},
            {"size": "1", "name": ""},
        ],
        "unknown_rank": False,
    }
    assert defs["serving_default"]["method_name"] == "tensorflow/serving/predict"
    assert defs["serving_default"]["outputs"]["probabilities"]["tensor_shape"]["dim"] == [
        {"size": "-1", "name": ""},
        {"size": "10", "name": ""},
    ]


# ---- routes: TF Serving's regexes, codes and messages ---------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "code", "answer"),
    [
        ("GET", "/v1/models", 400, {"error": "Missing model name in request."}),
        ("GET", f"/v1/models/{MODEL}:predict", 400, {"error": f"Malformed request: GET /v1/models/{MODEL}:predict"}),
        ("POST", f"/v1/models/{MODEL}", 400, {"error": f"Malformed request: POST /v1/models/{MODEL}"}),
        ("PUT", PREDICT, 400, {"error": f"Malformed request: PUT {PREDICT}"}),
        ("GET", "/v1/models/nope", 404, {"error": "Could not find any versions of model nope"}),
        ("GET", f"/v1/models/{MODEL}/versions/7", 404, {"error": f"Could not find version 7 of model {MODEL}"}),
        (
            "GET",
            f"/v1/models/{MODEL}/versions/99999999999999999999",
            400,
            {"error": "Failed to convert version: 99999999999999999999 to numeric."},
        ),
        ("POST", "/v1/models/nope:predict", 404, {"error": "Servable not found for request: Latest(nope)"}),
        (
            "POST",
            f"/v1/models/{MODEL}/versions/7:predict",
            404,
            {"error": f"Servable not found for request: Specific({MODEL}, 7)"},
        ),
        (
            "POST",
            f"/v1/models/{MODEL}/labels/canary:predict",
            400,
            {"error": "Unrecognized servable version label: canary"},
        ),
        # (?i): the path matches in any case, but TF Serving compares the method word exactly.
        ("POST", f"/V1/MODELS/{MODEL}:PREDICT", 400, {"error": f"Malformed request: POST /V1/MODELS/{MODEL}:PREDICT"}),
    ],
)
def test_route_errors_are_tf_servings(server, method, path, code, answer):
    body = json.dumps({"instances": [b64(b"x")]}).encode() if method != "GET" else None
    assert server.call(method, path, body) == (code, answer)


def test_paths_are_case_insensitive_and_labels_resolve(server, images, trained_digits):
    expected = _expected_rows(trained_digits.export_path, images[0][:1])
    body = {"instances": [{"image_bytes": b64(images[0][0])}]}
    for path in (f"/V1/Models/{MODEL}/Versions/1:predict", f"/v1/models/{MODEL}/labels/stable:predict"):
        assert server.post(path, body) == (200, {"predictions": expected}), path
    assert server.call("GET", f"/V1/MODELS/{MODEL}")[0] == 200
    assert server.call("GET", f"/v1/models/{MODEL}/labels/stable/metadata")[1]["model_spec"]["version"] == "1"


# ---- predict ---------------------------------------------------------------------------------------


def test_predict_rows_and_columns_value_for_value(server, images, trained_digits):
    pngs, _ = images
    rows = _expected_rows(trained_digits.export_path, pngs)
    body = {"signature_name": "serving_default", "instances": [{"image_bytes": b64(p)} for p in pngs]}
    assert server.post(PREDICT, body) == (200, {"predictions": rows})
    columns = {key: [row[key] for row in rows] for key in rows[0]}
    assert server.post(PREDICT, {"inputs": {"image_bytes": [b64(p) for p in pngs]}}) == (200, {"outputs": columns})
    assert server.post(PREDICT, {"inputs": [b64(p) for p in pngs]}) == (200, {"outputs": columns})


def test_float_signature_takes_pixels(server, images, trained_digits):
    _, pixels = images
    out = tf.saved_model.load(trained_digits.export_path).signatures[FLOAT_SIGNATURE](images=tf.constant(pixels))
    code, answer = server.post(PREDICT, {"signature_name": FLOAT_SIGNATURE, "instances": [p.tolist() for p in pixels]})
    assert code == 200, answer
    assert [row["probabilities"] for row in answer["predictions"]] == [_float32(p) for p in out["probabilities"]]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"", "JSON Parse error: The document is empty"),
        (b"[1]", "JSON Value: [1] Is not object"),
        (b'{"inputs": [1], "instances": [1]}', None),  # message below, it echoes the body
        (
            b'{"signature_name": 5, "instances": [1]}',
            "JSON Value: 5 not formatted correctly. 'signature_name' key must be a string value.",
        ),
        (
            b'{"signature_name": ["a"], "instances": [1]}',
            "JSON Value: [\"a\"] not formatted correctly. 'signature_name' key must be a string value.",
        ),
        (b'{"instances": 1}', "JSON Value: {\"instances\":1} Expecting 'instances' to be an list/array"),
        (b'{"instances": []}', "JSON Value: {\"instances\":[]} No values in 'instances' array"),
        (b'{"rows": []}', "Missing 'inputs' or 'instances' key"),
        (b'{"signature_name": "nope", "instances": [1]}', 'Serving signature name: "nope" not found in signature def'),
        (b'{"inputs": {"pixels": ["x"]}}', "Missing named input: image_bytes in 'inputs' object."),
        (b'{"instances": [{"b64": "%%%"}]}', "input 'image_bytes': Unable to base64 decode"),
    ],
)
def test_predict_body_errors_are_tf_servings(server, body, error):
    code, answer = server.call("POST", PREDICT, body)
    expected = error or (
        'JSON Value: {"inputs":[1],"instances":[1]} Not formatted correctly expecting only one of '
        "'inputs' or 'instances' keys to exist "
    )
    assert (code, answer) == (400, {"error": expected})


def test_classify_and_regress_answer_tf_servings_method_check(server):
    body = {"examples": [{"x": 1.0}]}
    assert server.post(f"/v1/models/{MODEL}:classify", body) == (
        400,
        {
            "error": "Expected classification signature method_name to be tensorflow/serving/classify. "
            "Was: tensorflow/serving/predict"
        },
    )
    assert server.post(f"/v1/models/{MODEL}:regress", body) == (
        400,
        {
            "error": "Expected regression signature method_name to be tensorflow/serving/regress. Was: tensorflow/serving/predict"
        },
    )
    assert server.post(f"/v1/models/{MODEL}:classify", {"context": {}}) == (
        400,
        {"error": "JSON Value: {\"context\":{}} When method is classify, key 'examples' is expected and was not found"},
    )


# ---- every input checked before TensorFlow ----------------------------------------------------------


def _float_body(instances) -> bytes:
    return json.dumps({"signature_name": FLOAT_SIGNATURE, "instances": instances}, allow_nan=True).encode()


def _image(value) -> list:
    return [[[value]] * 8] * 8


@pytest.mark.parametrize(
    ("body", "error"),
    [
        # The request that aborted the process (a rank-1 image reached Conv2D).
        (_float_body([[1, 2, 3]]), "input 'images': expected shape [-1,8,8,1], got [1,3]"),
        (_float_body([_image(float("nan"))]), "input 'images': NaN is not a finite float"),
        (_float_body([_image(float("inf"))]), "input 'images': Infinity is not a finite float"),
        (_float_body([_image(1e39)]), "input 'images': 1e+39 is not a finite float"),
        (_float_body([_image("a")]), "input 'images': JSON Value: \"a\" Type: String is not of expected type: float"),
        (_float_body([_image(True)]), "input 'images': JSON Value: true Type: True is not of expected type: float"),
        (
            _float_body([[[[1.0]] * 8] * 7 + [[[1.0]]]]),
            "input 'images': lists of different lengths ([1, 8]) at level 3",
        ),
        (_float_body([[]]), "input 'images': expected shape [-1,8,8,1], got [1,0,8,1]"),
        (_float_body([[[[[1.0]]] * 8] * 8]), "input 'images': expected shape [-1,8,8,1], got a deeper list"),
        (b'{"instances": [5]}', "input 'image_bytes': JSON Value: 5 Type: Number is not of expected type: string"),
        (b'{"instances": [[{"b64": ""}]]}', "input 'image_bytes': expected shape [-1], got a deeper list"),
        (b'{"instances": ' + b"[" * 5000 + b"]" * 5000 + b"}", "JSON Parse error: nested deeper than 64 levels"),
        (b'{"instances": ' + b"[" * 70 + b"]" * 70 + b"}", "JSON Parse error: nested deeper than 64 levels"),
    ],
)
def test_bad_inputs_are_400_and_the_server_keeps_serving(server, images, body, error):
    assert server.call("POST", PREDICT, body) == (400, {"error": error})
    assert server.post(PREDICT, {"instances": [b64(images[0][0])]})[0] == 200


def test_integers_are_floats_for_a_float_input(server, images):
    code, answer = server.post(PREDICT, {"signature_name": FLOAT_SIGNATURE, "instances": [_image(3)]})
    assert code == 200, answer
