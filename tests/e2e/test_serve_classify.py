"""``:classify`` and ``:regress`` on a SavedModel whose signatures allow them (TF Serving's Example API).

kestrel's exports have predict signatures only, so the test builds a small TF1-style SavedModel with
a classification and a regression signature over a tf.Example with one float feature ``x``. The
expected answers are TF Serving's JSON (util/json_tensor.cc: ``{"results": ...}``; per example
``[[label, score], ...]`` for classify, one number for regress).
"""

from __future__ import annotations

import pytest
import tensorflow as tf
from serving_client import Server

pytestmark = pytest.mark.large


def _toy_model(path: str) -> None:
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        serialized = tf.compat.v1.placeholder(tf.string, [None], name="tf_example")
        x = tf.io.parse_example(serialized, {"x": tf.io.FixedLenFeature([1], tf.float32)})["x"]
        scores = tf.concat([x, 1 - x], axis=1)
        classes = tf.tile(tf.constant([["low", "high"]]), [tf.shape(scores)[0], 1])
        signatures = {
            "serving_default": tf.compat.v1.saved_model.classification_signature_def(serialized, classes, scores),
            "regress_x": tf.compat.v1.saved_model.regression_signature_def(serialized, 2 * x),
        }
        builder = tf.compat.v1.saved_model.Builder(path)
        builder.add_meta_graph_and_variables(session, ["serve"], signature_def_map=signatures)
        builder.save()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("classify")
    _toy_model(str(root / "toy" / "1"))
    served = Server(root / "toy", ["--model_name=toy", f"--model_base_path={root / 'toy'}"], root / "err.log")
    yield served
    served.stop()


def test_classify_answers_label_score_pairs_per_example(server):
    body = {"examples": [{"x": 0.25}, {"x": [0.5]}]}
    assert server.post("/v1/models/toy:classify", body) == (
        200,
        {"results": [[["low", 0.25], ["high", 0.75]], [["low", 0.5], ["high", 0.5]]]},
    )


def test_context_features_join_every_example(server):
    assert server.post("/v1/models/toy/versions/1:classify", {"context": {"x": 0.125}, "examples": [{}]}) == (
        200,
        {"results": [[["low", 0.125], ["high", 0.875]]]},
    )
    body = {"context": {"site": "a"}, "examples": [{"x": 0.25}]}  # each example keeps its own features too
    assert server.post("/v1/models/toy:classify", body) == (200, {"results": [[["low", 0.25], ["high", 0.75]]]})


def test_regress_answers_one_number_per_example(server):
    body = {"signature_name": "regress_x", "examples": [{"x": 0.25}, {"x": 1.5}]}
    assert server.post("/v1/models/toy:regress", body) == (200, {"results": [0.5, 3.0]})


@pytest.mark.parametrize(
    ("path", "body", "answer"),
    [
        (
            "/v1/models/toy:regress",
            {"examples": [{"x": 0.25}]},
            "Expected regression signature method_name to be tensorflow/serving/regress. "
            "Was: tensorflow/serving/classify",
        ),
        (
            "/v1/models/toy:classify",
            {"examples": []},
            "JSON Value: {\"examples\":[]} 'examples' value is an empty array",
        ),
        ("/v1/models/toy:classify", {"examples": [1]}, "Example must be JSON object but got JSON Number"),
        (
            "/v1/models/toy:classify",
            {"examples": [{"x": [1.5, "a"]}]},
            "Unexpected element type in feature: x expecting type: float",
        ),
        (
            "/v1/models/toy:classify",
            {"examples": [{"x": None}]},
            "Feature: x has element with unexpected JSON type: Null",
        ),
        ("/v1/models/toy:classify", {"examples": [{"x": float("nan")}]}, "Feature: x has a non-finite element: NaN"),
        (
            "/v1/models/toy:classify",
            {"signature_name": "nope", "examples": [{}]},
            "No signature was found with the name: nope",
        ),
    ],
)
def test_classify_and_regress_errors_are_tf_servings(server, path, body, answer):
    assert server.post(path, body) == (400, {"error": answer})
